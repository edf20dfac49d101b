# Interop check with dubbo-python (PyPI package `apache-dubbo`), run by
# triple/tests/interop_dubbo_python.rs when ZKDUBBO_DUBBO_PYTHON names a Python that has it.
# GreeterRequest/GreeterReply are encoded by hand (field 1, string, < 128 bytes) so that no
# protobuf code generation is needed.
# Usage: python dubbo_python_client.py PORT [NAME]
import sys
import dubbo
from dubbo.configs import ReferenceConfig

def enc(s):
    b = s.encode()
    return b"\x0a" + bytes([len(b)]) + b

def dec(b):
    return b[2:2 + b[1]].decode() if b else ""

ref = ReferenceConfig.from_url("tri://127.0.0.1:%s/org.apache.dubbo.samples.Greeter" % sys.argv[1])
client = dubbo.Client(ref)
say = client.unary(method_name="sayHello", request_serializer=enc, response_deserializer=dec)
print("reply:", say(sys.argv[2] if len(sys.argv) > 2 else "python"), flush=True)
