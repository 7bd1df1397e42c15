"""A client that ignores the server's close: it asks with `Connection: close`, reads the
answer up to the server's FIN, then sends a second request on the same connection (the
keep-alive race of connection pools). The server never processes the second one.

Run inside the test namespace only (make-captures.sh), where 169.254.169.254 is the mock.
"""
import socket
import time

REQ = (b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n"
       b"User-Agent: late-client/1\r\nConnection: close\r\n\r\n")

s = socket.create_connection(("169.254.169.254", 80), timeout=3)
s.sendall(REQ)
while s.recv(4096):
    pass  # until the server's FIN
try:
    s.sendall(REQ)  # after the server closed: answered by RST at most
    time.sleep(0.2)
except OSError:
    pass
s.close()
