# Interop check with dubbo-python (PyPI package `apache-dubbo`), run by
# triple/tests/interop_dubbo_python.rs when ZKDUBBO_DUBBO_PYTHON names a Python that has it.
# GreeterRequest/GreeterReply are encoded by hand (field 1, string, < 128 bytes) so that no
# protobuf code generation is needed.
# Usage: python dubbo_python_server.py PORT [SECONDS]
import sys, time
import dubbo
from dubbo.configs import ServiceConfig
from dubbo.proxy.handlers import RpcMethodHandler, RpcServiceHandler

def enc(s):
    b = s.encode()
    return b"\x0a" + bytes([len(b)]) + b

def dec(b):
    return b[2:2 + b[1]].decode() if b else ""

def say_hello(request):
    return "Hello, %s!" % request

handler = RpcServiceHandler(
    service_name="org.apache.dubbo.samples.Greeter",
    method_handlers=[RpcMethodHandler.unary(method=say_hello, method_name="sayHello",
                                            request_deserializer=dec, response_serializer=enc)],
)
port = int(sys.argv[1])
server = dubbo.Server(ServiceConfig(handler, host="127.0.0.1", port=port)).start()
print("python server on", port, flush=True)
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 30)
