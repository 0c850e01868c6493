#!/usr/bin/env python3
"""Idle footprint of a tern::server echo server: PSS of all its processes
(master, manager, workers) at rest, and the PSS added per idle connection
(10,000 connections). Prints JSON lines like the other benchmarks.

usage: footprint.py SERVER_BINARY MODE LANG [LUA_SCRIPT]"""
import json
import os
import resource
import socket
import subprocess
import sys
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tree(root):
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    out = []
    for pid in parent:
        p = pid
        while p > 1:
            if p == root:
                out.append(pid)
                break
            p = parent.get(p, 0)
    return out


def pss_bytes(root):
    total = 0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def main():
    binary, mode, lang = sys.argv[1], sys.argv[2], sys.argv[3]
    port = free_port()
    if lang == "lua":
        cmd = [binary, sys.argv[4], str(port), mode, "2"]
    else:
        cmd = [binary, "127.0.0.1", str(port), mode, "2"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 30000), hard))
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        idle = pss_bytes(server.pid)
        n = 10000
        conns = []
        for _ in range(n):
            conns.append(socket.create_connection(("127.0.0.1", port)))
        for c in conns[-10:]:  # every connection is accepted and set up
            c.sendall(b"ping")
            c.recv(16)
        time.sleep(1.0)
        loaded = pss_bytes(server.pid)
        name = f"server.echo_{lang}_{mode}"
        print(json.dumps({"bench": name + ".idle_pss", "impl": "tern", "value": idle, "unit": "bytes"}))
        print(json.dumps({"bench": name + ".bytes_per_idle_connection", "impl": "tern",
                          "value": round((loaded - idle) / n, 1), "unit": "bytes"}))
        for c in conns:
            c.close()
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
