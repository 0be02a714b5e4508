#!/usr/bin/python3
"""Splits the broker thread's CPU samples (perf record --call-graph dwarf -t
<broker pid>) into: the plugin's own code (any frame in vitalgate.so or its
libraries called from it), Mosquitto's dispatch of the messages the plugin
publishes (queue_plugin_msgs in the main loop), and the rest.

    perf script -i perf.data | bench/perf-split.py [--msgs N]

With --msgs (messages in the recording window) prints µs per message,
assuming perf's sampling frequency given with --freq (default 2000 Hz).
"""
import re
import sys

args = sys.argv[1:]
msgs = float(args[args.index('--msgs') + 1]) if '--msgs' in args else None
freq = float(args[args.index('--freq') + 1]) if '--freq' in args else 2000.0

counts = {}
top_vg = {}
total = 0
stack = []


def classify(frames):
    """frames: leaf first, as (symbol, dso)."""
    vg = [s for s, d in frames if d.endswith('vitalgate.so')]
    if vg:
        outer = vg[-1]  # the callback mosquitto called
        return 'plugin', outer
    syms = [s for s, _ in frames]
    if 'handle__publish' not in syms and 'db__messages_easy_queue' in syms:
        return 'mosquitto: dispatching plugin publishes', None
    return 'mosquitto and kernel: the rest', None


def flush():
    global total
    if not stack:
        return
    cls, outer = classify(stack)
    counts[cls] = counts.get(cls, 0) + 1
    if outer:
        top_vg[outer] = top_vg.get(outer, 0) + 1
    total += 1
    stack.clear()


frame = re.compile(r'^\s+[0-9a-f]+\s+(\S+)\s+\((.*)\)$')
for line in sys.stdin:
    if not line.strip():
        flush()
        continue
    m = frame.match(line.rstrip('\n'))
    if m:
        sym = re.sub(r'\+0x[0-9a-f]+$', '', m.group(1))
        stack.append((sym, m.group(2)))
flush()

per = (lambda n: f'{n / freq * 1e6 / msgs:.2f} µs/msg') if msgs else (lambda n: '')
print(f'{total} samples')
for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
    print(f'{k:45s} {v:7d} {100 * v / total:5.1f}%  {per(v)}')
print('plugin callbacks (inclusive):')
for k, v in sorted(top_vg.items(), key=lambda kv: -kv[1]):
    print(f'  {k:43s} {v:7d} {100 * v / total:5.1f}%  {per(v)}')
