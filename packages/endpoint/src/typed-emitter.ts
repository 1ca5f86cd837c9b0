/**
 * An `EventEmitter` whose `on` and `off` are typed by an event map, as the interfaces of
 * `api.ts` declare them; the embedded endpoint and the SDK's daemon client both build on it.
 */
import { EventEmitter } from 'node:events';

export class TypedEmitter<Events extends { [E in keyof Events]: unknown[] }> extends EventEmitter {
  override on<E extends keyof Events & string>(
    event: E,
    listener: (...args: Events[E]) => void,
  ): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override off<E extends keyof Events & string>(
    event: E,
    listener: (...args: Events[E]) => void,
  ): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
}
