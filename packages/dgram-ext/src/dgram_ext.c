// @braid/dgram-ext: a UDP socket that Node's dgram cannot make. The addon owns a non-blocking
// socket fd, watches it with a uv_poll_t on Node's own loop, reads in bounded batches
// (recvmmsg, with UDP GRO when asked) and sends with UDP GSO (UDP_SEGMENT), sendmmsg or
// sendto. Every syscall error comes back to JavaScript as a negative errno; nothing here
// aborts the process. Linux only (GSO since 4.18, GRO since 5.0); the JS side falls back to
// node:dgram wherever this file does not build or load.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

// Bounds. BATCH_MAX caps one recvmmsg/sendmmsg; SEGMENTS_MAX is the kernel's UDP_MAX_SEGMENTS
// on 4.18–6.x and UDP_GRO_CNT_MAX, so one GSO send or one GRO read holds at most 64 datagrams.
#define BATCH_MAX 64
#define SEGMENTS_MAX 64
#define READS_PER_WAKE_MAX 64
#define ADDRESS_CHARS_MAX 64
#define CONTROL_BYTES 64
// Largest UDP payload over IPv4 (65535 - 20 - 8); IPv6 allows 65527 without jumbograms.
#define UDP4_PAYLOAD_MAX 65507
#define UDP6_PAYLOAD_MAX 65527
// A send interrupted by a signal is tried again, this many times at most.
#define EINTR_RETRIES_MAX 8

// send_slices takes a GSO train's segments as one batch.
_Static_assert(SEGMENTS_MAX <= BATCH_MAX, "a train must fit one sendmmsg batch");

typedef struct {
  napi_env env;
  int fd;
  int family;
  int gso; // 1 when the kernel took setsockopt(UDP_SEGMENT)
  int gro;
  int closing;
  int handle_closed;
  int finalized;
  int want_writable; // a send met EAGAIN: poll for writability, then call on_writable once
  uv_poll_t poll;
  napi_ref on_batch;
  napi_ref on_error;
  napi_ref on_writable;
  napi_ref recv_memory; // the JS Uint8Array the datagrams are read into
  napi_ref segments_memory; // the JS Uint32Array of (offset, length) pairs
  napi_ref self; // the external itself, held until close: an open socket is never collected
  napi_async_context async_context;
  uint8_t *recv;
  uint32_t slot_bytes;
  uint32_t slots;
  uint32_t *segments;
  uint32_t segments_pairs_max;
  uint32_t reads_per_wake;
  // Counters for stats(): syscalls and what they carried, both ways.
  double recv_calls, recv_messages, recv_datagrams, send_calls, send_datagrams;
  struct mmsghdr msgs[BATCH_MAX];
  struct iovec iovs[BATCH_MAX];
  struct sockaddr_storage names[BATCH_MAX];
  uint8_t control[BATCH_MAX][CONTROL_BYTES];
} sock_t;

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) return NULL;                                                            \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

// Throws an Error carrying errno (negative, as Node's) and syscall; the JS side names the code.
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value message, error, value;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_int32(env, -err, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_set_named_property(env, error, "syscall", message);
  napi_throw(env, error);
  return NULL;
}

static void maybe_free(sock_t *s) {
  if (s->handle_closed && s->finalized) free(s);
}

static void on_handle_closed(uv_handle_t *handle) {
  sock_t *s = handle->data;
  s->handle_closed = 1;
  maybe_free(s);
}

static void release_js(sock_t *s) {
  napi_env env = s->env;
  if (s->on_batch) napi_delete_reference(env, s->on_batch);
  if (s->on_error) napi_delete_reference(env, s->on_error);
  if (s->on_writable) napi_delete_reference(env, s->on_writable);
  if (s->recv_memory) napi_delete_reference(env, s->recv_memory);
  if (s->segments_memory) napi_delete_reference(env, s->segments_memory);
  if (s->self) napi_delete_reference(env, s->self);
  if (s->async_context) napi_async_destroy(env, s->async_context);
  s->on_batch = s->on_error = s->on_writable = s->recv_memory = s->segments_memory = NULL;
  s->self = NULL;
  s->async_context = NULL;
}

// Stops watching, closes the fd and the poll handle (freed once both the handle is closed and
// the external finalized).
static void stop_fd_and_handle(sock_t *s) {
  s->closing = 1;
  uv_poll_stop(&s->poll);
  close(s->fd);
  s->fd = -1;
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void cleanup_hook(void *arg) {
  // The environment is going: no JS from here on, and N-API frees the references itself.
  stop_fd_and_handle(arg);
}

// close(), or a socket given up: its JS references go, then the fd and the handle.
static void close_socket(sock_t *s) {
  if (s->closing) return;
  release_js(s);
  napi_remove_env_cleanup_hook(s->env, cleanup_hook, s);
  stop_fd_and_handle(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sock_t *s = data;
  close_socket(s);
  s->finalized = 1;
  maybe_free(s);
}

static void call_js(sock_t *s, napi_ref ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  if (!ref || napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv); // napi_make_callback wants an object receiver
  if (napi_make_callback(env, s->async_context, recv, fn, argc, argv, &result) ==
      napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error); // process 'uncaughtException', as for any callback
  }
}

static void report_error(sock_t *s, int err, const char *syscall) {
  napi_value argv[2];
  argv[0] = make_int(s->env, -err);
  napi_create_string_utf8(s->env, syscall, NAPI_AUTO_LENGTH, &argv[1]);
  call_js(s, s->on_error, 2, argv);
}

static void name_to_js(sock_t *s, const struct sockaddr_storage *name, napi_value *address,
                       napi_value *port) {
  char text[INET6_ADDRSTRLEN] = "";
  uint16_t p = 0;
  if (name->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)name;
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    p = ntohs(in->sin_port);
  } else if (name->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)name;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    p = ntohs(in6->sin6_port);
  }
  napi_create_string_latin1(s->env, text, NAPI_AUTO_LENGTH, address);
  napi_create_uint32(s->env, p, port);
}

static int same_source(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port &&
         memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

// One JS call per run of datagrams from the same source: onBatch(count, address, port), the
// datagrams being segments[2i], segments[2i+1] (offset, length) into the receive memory.
static void flush(sock_t *s, uint32_t count, const struct sockaddr_storage *source) {
  if (count == 0 || s->closing) return;
  napi_value argv[3];
  argv[0] = make_int(s->env, count);
  name_to_js(s, source, &argv[1], &argv[2]);
  call_js(s, s->on_batch, 3, argv);
}

static void deliver(sock_t *s, int n) {
  uint32_t count = 0;
  const struct sockaddr_storage *source = NULL;
  for (int i = 0; i < n && !s->closing; i++) {
    struct msghdr *h = &s->msgs[i].msg_hdr;
    uint32_t length = s->msgs[i].msg_len;
    if (h->msg_flags & MSG_TRUNC) {
      report_error(s, EMSGSIZE, "recvmmsg"); // larger than a slot: dropped, never cut short
      continue;
    }
    uint32_t segment = length;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
          c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        int size;
        memcpy(&size, CMSG_DATA(c), sizeof size);
        if (size > 0) segment = (uint32_t)size;
      }
    }
    if (segment == 0) segment = 1; // an empty datagram is one segment of length 0
    uint32_t pieces = length == 0 ? 1 : (length + segment - 1) / segment;
    if (source && (!same_source(source, &s->names[i]) ||
                   count + pieces > s->segments_pairs_max)) {
      flush(s, count, source);
      count = 0;
    }
    source = &s->names[i];
    uint32_t base = (uint32_t)i * s->slot_bytes;
    uint32_t k = 0;
    for (; k < pieces && count < s->segments_pairs_max; k++) {
      uint32_t offset = k * segment;
      uint32_t left = length - offset;
      s->segments[2 * count] = base + offset;
      s->segments[2 * count + 1] = left < segment ? left : segment;
      count++;
    }
    s->recv_datagrams += k;
    // More pieces than the segments array holds (a smaller array than the JS side makes):
    // the rest are dropped, and said so.
    if (k < pieces) report_error(s, ENOBUFS, "recvmmsg");
  }
  if (source) flush(s, count, source);
}

// Whether the JS arrays the kernel reads into are still the ones open() was given: JavaScript
// can detach an ArrayBuffer (transfer it), and recvmmsg must never write into freed memory.
static int memory_intact(sock_t *s) {
  napi_value v;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_reference_value(s->env, s->recv_memory, &v) != napi_ok || v == NULL ||
      napi_get_typedarray_info(s->env, v, &type, &length, &data, NULL, NULL) != napi_ok ||
      data != s->recv || length < (size_t)s->slots * s->slot_bytes)
    return 0;
  if (napi_get_reference_value(s->env, s->segments_memory, &v) != napi_ok || v == NULL ||
      napi_get_typedarray_info(s->env, v, &type, &length, &data, NULL, NULL) != napi_ok ||
      data != (void *)s->segments || length < 2 * (size_t)s->segments_pairs_max)
    return 0;
  return 1;
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  sock_t *s = handle->data;
  if (s->closing) return;
  napi_handle_scope scope;
  napi_open_handle_scope(s->env, &scope);
  if (status < 0) {
    // libuv stops the watcher on POLLERR: report the socket's pending error (reading it clears
    // it), and watch again, or the socket would never read again.
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0) err = -status;
    report_error(s, err, "uv_poll");
    int rc = s->closing ? 0
                        : uv_poll_start(&s->poll, UV_READABLE | (s->want_writable ? UV_WRITABLE : 0),
                                        on_poll);
    if (rc != 0) report_error(s, -rc, "uv_poll_start");
  } else {
    if ((events & UV_WRITABLE) && s->want_writable) {
      // Writable once: back to reads only, then tell JavaScript, which sends what it holds.
      s->want_writable = 0;
      uv_poll_start(&s->poll, UV_READABLE, on_poll);
      call_js(s, s->on_writable, 0, NULL);
    }
  }
  if (status >= 0 && (events & UV_READABLE) && !s->closing && !memory_intact(s)) {
    report_error(s, EFAULT, "recvmmsg"); // its memory was detached: the socket cannot read
    close_socket(s);
  }
  if (status >= 0 && (events & UV_READABLE) && !s->closing) {
    for (uint32_t reads = 0; reads < s->reads_per_wake && !s->closing; reads++) {
      for (uint32_t i = 0; i < s->slots; i++) {
        struct msghdr *h = &s->msgs[i].msg_hdr;
        h->msg_namelen = sizeof s->names[i];
        h->msg_controllen = s->gro ? CONTROL_BYTES : 0;
        h->msg_flags = 0;
      }
      int n = recvmmsg(s->fd, s->msgs, s->slots, MSG_DONTWAIT, NULL);
      if (n < 0) {
        if (errno == EINTR) continue; // counts as one of the reads
        if (errno != EAGAIN && errno != EWOULDBLOCK) report_error(s, errno, "recvmmsg");
        break;
      }
      s->recv_calls++;
      s->recv_messages += n;
      deliver(s, n);
      if ((uint32_t)n < s->slots) break; // drained: poll wakes us again when more arrives
    }
  }
  napi_close_handle_scope(s->env, scope);
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

// Parses a numeric address into a sockaddr of the socket's family (IPv4 is mapped into IPv6 on a
// udp6 socket). Returns 0 or -EINVAL; no name resolution ever happens here.
static int to_sockaddr(sock_t *s, napi_env env, napi_value address, napi_value port_value,
                       struct sockaddr_storage *out, socklen_t *len) {
  char text[ADDRESS_CHARS_MAX];
  size_t text_len;
  uint32_t port;
  if (napi_get_value_string_latin1(env, address, text, sizeof text, &text_len) != napi_ok ||
      get_u32(env, port_value, &port) != 0 || port > 65535)
    return -EINVAL;
  memset(out, 0, sizeof *out);
  if (s->family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)out;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, text, &in->sin_addr) != 1) return -EINVAL;
    *len = sizeof *in;
    return 0;
  }
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons((uint16_t)port);
  if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1) {
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) != 1) return -EINVAL;
    in6->sin6_addr.s6_addr[10] = 0xff;
    in6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6->sin6_addr.s6_addr[12], &v4, 4);
  }
  *len = sizeof *in6;
  return 0;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, length, &p, &buffer, &offset) != napi_ok) return -1;
  if (type != napi_uint8_array) return -1;
  *data = p;
  return 0;
}

static sock_t *get_sock(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return data;
}

// The prologue of every function but open(): up to `n` arguments into `argv` (missing ones are
// undefined), and the socket the first names, or NULL.
static sock_t *args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  return get_sock(env, argv[0]);
}

// open(family, address, port, gro, dontFragment, recvBufferSize, sendBufferSize, device,
//      recvMemory, slotBytes, segments, readsPerWake, onBatch, onError, onWritable, v6Only)
//   -> external
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 16) return throw_errno(env, EINVAL, "open");
  uint32_t family, gro, dont_fragment, rcvbuf, sndbuf, slot_bytes, reads_per_wake, v6only;
  if (get_u32(env, argv[0], &family) || get_u32(env, argv[3], &gro) ||
      get_u32(env, argv[4], &dont_fragment) || get_u32(env, argv[5], &rcvbuf) ||
      get_u32(env, argv[6], &sndbuf) || get_u32(env, argv[9], &slot_bytes) ||
      get_u32(env, argv[11], &reads_per_wake) || get_u32(env, argv[15], &v6only))
    return throw_errno(env, EINVAL, "open");
  uint8_t *recv, *segments_bytes;
  size_t recv_len, segments_len;
  napi_typedarray_type segments_type;
  napi_value ab;
  size_t ab_offset;
  void *segments_p;
  if (get_bytes(env, argv[8], &recv, &recv_len) ||
      napi_get_typedarray_info(env, argv[10], &segments_type, &segments_len, &segments_p, &ab,
                               &ab_offset) != napi_ok ||
      segments_type != napi_uint32_array)
    return throw_errno(env, EINVAL, "open");
  segments_bytes = segments_p;
  uint32_t slots = slot_bytes ? (uint32_t)(recv_len / slot_bytes) : 0;
  if (slots > BATCH_MAX) slots = BATCH_MAX;
  if (slots == 0 || segments_len < 2 || reads_per_wake == 0 ||
      reads_per_wake > READS_PER_WAKE_MAX)
    return throw_errno(env, EINVAL, "open");

  sock_t *s = calloc(1, sizeof *s);
  if (!s) return throw_errno(env, ENOMEM, "open");
  s->env = env;
  s->family = family == 6 ? AF_INET6 : AF_INET;
  s->fd = socket(s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) {
    int err = errno;
    free(s);
    return throw_errno(env, err, "socket");
  }
  // The first call that fails names the error, with its own errno (later calls would change it).
  const char *failed = NULL;
  int err = 0;
#define TRY(ok, what)                                                                              \
  do {                                                                                             \
    if (!failed && !(ok)) {                                                                        \
      err = errno;                                                                                 \
      failed = (what);                                                                             \
    }                                                                                              \
  } while (0)
  int one = 1, zero = 0;
  TRY(!rcvbuf || !setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf),
      "setsockopt SO_RCVBUF");
  TRY(!sndbuf || !setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf),
      "setsockopt SO_SNDBUF");
  if (dont_fragment) {
    // PROBE, not DO: set DF but ignore the kernel's cached path MTU, as DPLPMTUD (RFC 8899)
    // wants; quinn-udp makes the same choice. A dual-stack udp6 socket sends IPv4 too.
    int v4 = IP_PMTUDISC_PROBE, v6 = IPV6_PMTUDISC_PROBE;
    if (s->family == AF_INET6)
      TRY(!setsockopt(s->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof v6),
          "setsockopt IPV6_MTU_DISCOVER");
    if (s->family == AF_INET || !v6only)
      TRY(!setsockopt(s->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof v4),
          "setsockopt IP_MTU_DISCOVER");
  }
  if (s->family == AF_INET6)
    TRY(!setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? &one : &zero, sizeof one),
        "setsockopt IPV6_V6ONLY");
  napi_valuetype device_type;
  if (napi_typeof(env, argv[7], &device_type) == napi_ok && device_type == napi_string) {
    char device[IFNAMSIZ];
    size_t device_len = 0;
    napi_get_value_string_utf8(env, argv[7], device, sizeof device, &device_len);
    TRY(!setsockopt(s->fd, SOL_SOCKET, SO_BINDTODEVICE, device, (socklen_t)device_len),
        "setsockopt SO_BINDTODEVICE");
  }
  if (gro) {
    TRY(!setsockopt(s->fd, SOL_UDP, UDP_GRO, &one, sizeof one), "setsockopt UDP_GRO");
    s->gro = 1;
  }
  // Probe GSO support once: a size of 0 leaves sends unsegmented unless a cmsg asks.
  if (!failed) s->gso = setsockopt(s->fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
  struct sockaddr_storage name;
  socklen_t name_len;
  if (!failed && to_sockaddr(s, env, argv[1], argv[2], &name, &name_len) != 0) {
    err = EINVAL;
    failed = "bind";
  }
  TRY(!bind(s->fd, (struct sockaddr *)&name, name_len), "bind");
#undef TRY
  if (failed) {
    close(s->fd);
    free(s);
    return throw_errno(env, err, failed);
  }

  s->recv = recv;
  s->slot_bytes = slot_bytes;
  s->slots = slots;
  s->segments = (uint32_t *)segments_bytes;
  s->segments_pairs_max = (uint32_t)(segments_len / 2);
  s->reads_per_wake = reads_per_wake;
  for (uint32_t i = 0; i < slots; i++) {
    s->iovs[i].iov_base = recv + (size_t)i * slot_bytes;
    s->iovs[i].iov_len = slot_bytes;
    struct msghdr *h = &s->msgs[i].msg_hdr;
    h->msg_name = &s->names[i];
    h->msg_iov = &s->iovs[i];
    h->msg_iovlen = 1;
    h->msg_control = s->control[i];
  }
  napi_create_reference(env, argv[8], 1, &s->recv_memory);
  napi_create_reference(env, argv[10], 1, &s->segments_memory);
  napi_create_reference(env, argv[12], 1, &s->on_batch);
  napi_create_reference(env, argv[13], 1, &s->on_error);
  napi_create_reference(env, argv[14], 1, &s->on_writable);
  napi_value resource_name;
  napi_create_string_utf8(env, "BraidDgramExt", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &s->async_context);

  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &s->poll, s->fd);
  if (rc != 0) {
    // No handle was made: nothing to close but the fd.
    release_js(s);
    close(s->fd);
    free(s);
    return throw_errno(env, -rc, "uv_poll_init");
  }
  s->poll.data = s;
  napi_add_env_cleanup_hook(env, cleanup_hook, s);
  napi_value external = NULL;
  rc = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (rc == 0 && (napi_create_external(env, s, finalize, NULL, &external) != napi_ok ||
                  napi_create_reference(env, external, 1, &s->self) != napi_ok))
    rc = UV_ENOMEM;
  if (rc != 0) {
    // The handle exists: it is closed, and frees the socket once no external can (none was
    // made, or it holds no reference any more and finalize only marks it).
    if (!external) s->finalized = 1;
    close_socket(s);
    return throw_errno(env, -rc, "uv_poll_start");
  }
  return external;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  sock_t *s = args(env, info, 1, argv);
  if (s) close_socket(s);
  return NULL;
}

static napi_value js_set_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  bool ref;
  sock_t *s = args(env, info, 2, argv);
  if (!s || s->closing || napi_get_value_bool(env, argv[1], &ref) != napi_ok) return NULL;
  if (ref)
    uv_ref((uv_handle_t *)&s->poll);
  else
    uv_unref((uv_handle_t *)&s->poll);
  return NULL;
}

// wantWritable(sock): after a send met EAGAIN, call onWritable once the socket can send again.
static napi_value js_want_writable(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  sock_t *s = args(env, info, 1, argv);
  if (!s || s->closing || s->want_writable) return NULL;
  int rc = uv_poll_start(&s->poll, UV_READABLE | UV_WRITABLE, on_poll);
  if (rc != 0) return throw_errno(env, -rc, "uv_poll_start");
  s->want_writable = 1;
  return NULL;
}

// info(sock) -> [address, port, fd, gso, gro]
static napi_value js_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, address, port;
  sock_t *s = args(env, info, 1, argv);
  if (!s || s->closing) return throw_errno(env, EBADF, "getsockname");
  struct sockaddr_storage name;
  socklen_t len = sizeof name;
  if (getsockname(s->fd, (struct sockaddr *)&name, &len)) return throw_errno(env, errno, "getsockname");
  name_to_js(s, &name, &address, &port);
  CHECK(napi_create_array_with_length(env, 5, &out));
  napi_set_element(env, out, 0, address);
  napi_set_element(env, out, 1, port);
  napi_set_element(env, out, 2, make_int(env, s->fd));
  napi_set_element(env, out, 3, make_int(env, s->gso));
  napi_set_element(env, out, 4, make_int(env, s->gro));
  return out;
}

// stats(sock) -> [recvCalls, recvMessages, recvDatagrams, sendCalls, sendDatagrams]
static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], out, v;
  sock_t *s = args(env, info, 1, argv);
  if (!s) return throw_errno(env, EBADF, "stats");
  double values[5] = {s->recv_calls, s->recv_messages, s->recv_datagrams, s->send_calls,
                      s->send_datagrams};
  CHECK(napi_create_array_with_length(env, 5, &out));
  for (uint32_t i = 0; i < 5; i++) {
    napi_create_double(env, values[i], &v);
    napi_set_element(env, out, i, v);
  }
  return out;
}

static int send_slices(sock_t *s, struct iovec *iovs, uint32_t count, struct sockaddr_storage *to,
                       socklen_t to_len, int *err) {
  struct mmsghdr msgs[BATCH_MAX];
  uint32_t sent = 0;
  memset(msgs, 0, sizeof(struct mmsghdr) * count);
  for (uint32_t i = 0; i < count; i++) {
    msgs[i].msg_hdr.msg_name = to;
    msgs[i].msg_hdr.msg_namelen = to_len;
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  // Each call sends at least one datagram or fails: at most count calls, and the retries.
  for (int interrupted = 0; sent < count;) {
    int n = sendmmsg(s->fd, msgs + sent, count - sent, 0);
    s->send_calls++;
    if (n < 0) {
      if (errno == EINTR && interrupted++ < EINTR_RETRIES_MAX) continue;
      *err = errno;
      break;
    }
    sent += (uint32_t)n;
  }
  s->send_datagrams += sent;
  return (int)sent;
}

// Result convention of the send functions: a count of datagrams sent, and when that is short of
// the count asked, the errno of the first one not sent as a second element: [sent, -errno].
static napi_value result(napi_env env, int sent, int err) {
  napi_value out;
  if (err == 0) return make_int(env, sent);
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, make_int(env, sent));
  napi_set_element(env, out, 1, make_int(env, -err));
  return out;
}

// send(sock, bytes, port, address) -> 1 | [0, -errno]
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  sock_t *s = args(env, info, 4, argv);
  uint8_t *data;
  size_t length;
  struct sockaddr_storage to;
  socklen_t to_len;
  if (!s || s->closing) return result(env, 0, EBADF);
  if (get_bytes(env, argv[1], &data, &length)) return result(env, 0, EINVAL);
  int rc = to_sockaddr(s, env, argv[3], argv[2], &to, &to_len);
  if (rc) return result(env, 0, -rc);
  for (int tries = 0;; tries++) {
    s->send_calls++;
    if (sendto(s->fd, data, length, 0, (struct sockaddr *)&to, to_len) >= 0) {
      s->send_datagrams++;
      return result(env, 1, 0);
    }
    if (errno != EINTR || tries == EINTR_RETRIES_MAX) return result(env, 0, errno);
  }
}

// sendSegments(sock, bytes, segmentBytes, port, address, useGso) -> count | [sent, -errno]
// One buffer cut into datagrams of segmentBytes (the last may be shorter): one sendmsg with
// UDP_SEGMENT when GSO is there and asked for, else one sendmmsg.
static napi_value js_send_segments(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  sock_t *s = args(env, info, 6, argv);
  uint8_t *data;
  size_t length;
  uint32_t segment;
  bool use_gso;
  struct sockaddr_storage to;
  socklen_t to_len;
  if (!s || s->closing) return result(env, 0, EBADF);
  if (get_bytes(env, argv[1], &data, &length) || get_u32(env, argv[2], &segment) ||
      segment == 0 || napi_get_value_bool(env, argv[5], &use_gso) != napi_ok)
    return result(env, 0, EINVAL);
  size_t count = length == 0 ? 1 : (length + segment - 1) / segment;
  size_t payload_max = s->family == AF_INET ? UDP4_PAYLOAD_MAX : UDP6_PAYLOAD_MAX;
  if (count > SEGMENTS_MAX || segment > payload_max) return result(env, 0, EMSGSIZE);
  int rc = to_sockaddr(s, env, argv[4], argv[3], &to, &to_len);
  if (rc) return result(env, 0, -rc);
  if (use_gso && s->gso && count > 1 && length <= payload_max) {
    union {
      char buf[CMSG_SPACE(sizeof(uint16_t))];
      struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = data, .iov_len = length};
    struct msghdr h = {.msg_name = &to,
                       .msg_namelen = to_len,
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t size = (uint16_t)segment;
    memcpy(CMSG_DATA(c), &size, sizeof size);
    for (int tries = 0;; tries++) {
      s->send_calls++;
      if (sendmsg(s->fd, &h, 0) >= 0) {
        s->send_datagrams += count;
        return result(env, (int)count, 0);
      }
      if (errno == EINTR && tries < EINTR_RETRIES_MAX) continue;
      // EIO: the route's device cannot segment (no checksum offload); remember, use sendmmsg.
      if (errno == EIO) {
        s->gso = 0;
        break;
      }
      // EMSGSIZE (EINVAL before Linux 6.9 or so): a segment is larger than the route's MTU.
      // GSO does not fragment, a plain send does (DF unset): this train goes by sendmmsg, which
      // reports its own error if EINVAL meant something else; other routes may still take GSO.
      if (errno == EMSGSIZE || errno == EINVAL) break;
      return result(env, 0, errno);
    }
  }
  struct iovec iovs[SEGMENTS_MAX];
  for (size_t i = 0; i < count; i++) {
    size_t offset = i * segment;
    iovs[i].iov_base = data + offset;
    iovs[i].iov_len = length - offset < segment ? length - offset : segment;
  }
  int err = 0;
  int sent = send_slices(s, iovs, (uint32_t)count, &to, to_len, &err);
  return result(env, sent, err);
}

// sendBatch(sock, arrayOfBytes, port, address) -> count | [sent, -errno], via sendmmsg
static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  sock_t *s = args(env, info, 4, argv);
  uint32_t count;
  struct sockaddr_storage to;
  socklen_t to_len;
  if (!s || s->closing) return result(env, 0, EBADF);
  if (napi_get_array_length(env, argv[1], &count) != napi_ok) return result(env, 0, EINVAL);
  if (count > BATCH_MAX) return result(env, 0, EMSGSIZE);
  int rc = to_sockaddr(s, env, argv[3], argv[2], &to, &to_len);
  if (rc) return result(env, 0, -rc);
  struct iovec iovs[BATCH_MAX];
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    uint8_t *data;
    size_t length;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        get_bytes(env, element, &data, &length))
      return result(env, 0, EINVAL);
    iovs[i].iov_base = data;
    iovs[i].iov_len = length;
  }
  int err = 0;
  int sent = count ? send_slices(s, iovs, count, &to, to_len, &err) : 0;
  return result(env, sent, err);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"setRef", NULL, js_set_ref, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"sendSegments", NULL, js_send_segments, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, js_send_batch, NULL, NULL, NULL, napi_default, NULL},
      {"wantWritable", NULL, js_want_writable, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
