-- The main chunk raises before skynet.start is ever called.
error("deliberate error while loading t_loaderr")
