-- The server's clock, in milliseconds. A function rather than `TIME`, so that on a cluster it
-- runs on the node that holds the namespace (KEYS[1], any of its keys) and its clock.
return now_ms()
