"""A TCP relay that records both directions (tests/integration/cluster_faults_test.sh:
the cluster secret never crosses the wire).

  relay.py LISTEN_PORT TARGET_PORT RECORD_FILE READY_FILE
"""
import socket, sys, threading

listen_port, target_port, record, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
out = open(record, "ab")


def pump(src, dst):
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            with lock:
                out.write(d)
                out.flush()
            dst.sendall(d)
    except OSError:
        pass
    for sock in (src, dst):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(8)
open(ready, "w").close()
while True:
    c, _ = srv.accept()
    t = socket.create_connection(("127.0.0.1", target_port))
    threading.Thread(target=pump, args=(c, t), daemon=True).start()
    threading.Thread(target=pump, args=(t, c), daemon=True).start()
