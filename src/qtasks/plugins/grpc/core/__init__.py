"""The generated protobuf and gRPC code of `qtasks.v1.QTasksService` (`qtasks.proto`).

Regenerate after changing the proto, from `src/`:
`python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=.
qtasks/plugins/grpc/core/qtasks.proto`.
"""
