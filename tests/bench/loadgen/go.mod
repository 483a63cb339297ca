module entdb/tests/bench/loadgen

go 1.26.0

require (
	connectrpc.com/connect v1.21.1
	google.golang.org/protobuf v1.36.12
)

require (
	golang.org/x/net v0.63.0
	golang.org/x/text v0.44.0 // indirect
)
