#!/usr/bin/env bash
# The dugong.loop benchmark (issue 4): requests/s and client CPU per request
# for 10, 100, 1,000 and 10,000 concurrent connections, and memory per idle
# connection, against a private nginx on loopback (nginx on CPU 0, the client
# on CPU 1).  Usage: benchmarks/reactor.sh [extra bench_reactor.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || {
    apt-get update && apt-get install -y --no-install-recommends nginx-light; }
PATH=$PATH:/usr/sbin
work=$(mktemp -d /tmp/dugong-reactor-bench.XXXXXX)
mkdir -p "$work/html" "$work/tmp" "$work/logs"
head -c 1024 /dev/urandom >"$work/html/1k.bin"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
limit=$(ulimit -Hn)
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $limit;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections $((limit - 100)); }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  keepalive_requests 1000000; keepalive_timeout 300;
  server { listen 127.0.0.1:$port backlog=4096; root $work/html; }
}
CONF
ulimit -n "$limit"
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work"
trap 'nginx -c "$work/nginx.conf" -p "$work" -s stop; rm -rf "$work"' EXIT
sleep 0.5
taskset -c 1 python3 benchmarks/bench_reactor.py --port "$port" --path /1k.bin "$@"
