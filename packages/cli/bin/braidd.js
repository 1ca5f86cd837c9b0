#!/usr/bin/env node
import '../dist/braidd.js';
