-- ARGV: n, records (see _ENQUEUE)
enqueue(2, tonumber(ARGV[1]))
