#!/usr/bin/env bash
# Checks the compose deployment (compose/) without a Docker engine:
#  1. `docker-compose config` (Debian's docker-compose 1.29) parses and
#     validates compose/docker-compose.yml: schema, anchors, references
#     between services, secrets and volumes;
#  2. what `config` cannot see: every file the stack bind-mounts or builds
#     from exists in the repository, every file a Dockerfile COPYs exists,
#     and every secret file is one that compose/make-dev-certs.sh or
#     compose/make-dev-secrets.sh creates (run here into a throwaway copy);
#  3. every plugin_opt_ of compose/mosquitto/mosquitto.conf is a documented
#     option (docs/configuration.md), so the broker would not refuse it.
# Exits 1 naming the problem.
set -euo pipefail
cd "$(dirname "$0")/.."

file=compose/docker-compose.yml
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "check-compose: docker-compose not found: install the Debian package 'docker-compose' (scripts/install-deps.sh)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Interpolation uses the defaults in the file, not this shell's values.
if ! env -u VG_PUBLISH_ADDR docker-compose -f "$file" config >"$tmp/resolved.yml" 2>"$tmp/err"; then
  echo "check-compose: docker-compose -f $file config failed:" >&2
  cat "$tmp/err" >&2
  exit 1
fi

# 2. Secrets: generate them into a copy of compose/ (never touching the real
# compose/certs and compose/secrets) and check each secret file appears there.
mkdir "$tmp/compose"
tar -C compose --exclude=./certs --exclude=./secrets -cf - . | tar -C "$tmp/compose" -xf -
if ! { "$tmp/compose/make-dev-certs.sh" && "$tmp/compose/make-dev-secrets.sh"; } >"$tmp/gen.log" 2>&1; then
  echo "check-compose: the generators failed:" >&2
  cat "$tmp/gen.log" >&2
  exit 1
fi
python3 - "$tmp/resolved.yml" "$PWD" "$tmp/compose" <<'PY'
import glob, os, re, sys, yaml

resolved, repo, gen = sys.argv[1:]
cfg = yaml.safe_load(open(resolved))
compose_dir = os.path.join(repo, 'compose')
problems = []

def dockerfile_copies(path, context):
    """The sources of every COPY/ADD that copies from the build context."""
    for line in open(path):
        words = line.split()
        if not words or words[0].upper() not in ('COPY', 'ADD'):
            continue
        if any(w.startswith('--from') for w in words[1:]):
            continue  # from another stage, not from the context
        args = [w for w in words[1:] if not w.startswith('--')]
        for src in args[:-1]:
            if not glob.glob(os.path.join(context, src)):
                problems.append(f'{os.path.relpath(path, repo)}: COPY source {src} does not exist')

for name, svc in cfg.get('services', {}).items():
    build = svc.get('build')
    if build:
        ctx = build['context']
        df = os.path.join(ctx, build.get('dockerfile', 'Dockerfile'))
        if not os.path.isfile(df):
            problems.append(f'service {name}: Dockerfile {os.path.relpath(df, repo)} does not exist')
        else:
            dockerfile_copies(df, ctx)
    for v in svc.get('volumes', []):
        src = v.split(':')[0] if isinstance(v, str) else v.get('source', '')
        if src.startswith('/') and not os.path.exists(src):
            # docker would create an empty directory in its place
            problems.append(f'service {name}: bind-mounted {os.path.relpath(src, repo)} does not exist')
    for s in svc.get('secrets', []):
        src = s['source'] if isinstance(s, dict) else s
        if src not in cfg.get('secrets', {}):
            problems.append(f'service {name}: secret {src} is not defined')
for name, sec in cfg.get('secrets', {}).items():
    f = sec.get('file')
    if not f:
        continue
    rel = os.path.relpath(f, compose_dir)
    if rel.startswith('..') or not os.path.isfile(os.path.join(gen, rel)):
        problems.append(f'secret {name}: {os.path.relpath(f, repo)} is not created by compose/make-dev-certs.sh or compose/make-dev-secrets.sh')

for p in problems:
    print(f'check-compose: {p}', file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# 3. Plugin options the broker configuration uses exist.
bad=0
while read -r opt; do
  if ! grep -q "^| \`$opt\` |" docs/configuration.md; then
    echo "check-compose: compose/mosquitto/mosquitto.conf: $opt is not an option in docs/configuration.md" >&2
    bad=1
  fi
done < <(grep -oE '^plugin_opt_[a-z0-9_]+' compose/mosquitto/mosquitto.conf | sort -u)
[ "$bad" = 0 ] || exit 1
echo "check-compose: $file: ok ($(python3 -c 'import sys, yaml; print(len(yaml.safe_load(open(sys.argv[1]))["services"]))' "$tmp/resolved.yml") services)" >&2
