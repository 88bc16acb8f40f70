#!/usr/bin/python3
"""An independent client of the Lmeye API: Python grpcio (Debian's python3-grpcio) with stubs
generated from proto/lmeye/v1/lmeye.proto by protoc's Python plugins at run time. Proves the API
works for clients we did not write. Exit 0 when every check holds; prints one JSON line."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


def generate(proto_root, out_dir):
    plugin = shutil.which("grpc_python_plugin")
    if plugin is None:
        sys.exit("grpc_python_plugin not found (Debian package protobuf-compiler-grpc)")
    subprocess.run(["protoc", "-I", proto_root, "--python_out", out_dir,
                    "--grpc_python_out", out_dir, "--plugin=protoc-gen-grpc_python=" + plugin,
                    "lmeye/v1/lmeye.proto"], check=True)
    # protoc writes lmeye/v1/lmeye_pb2.py, whose grpc module imports "lmeye.v1.lmeye_pb2".
    for d in ("lmeye", "lmeye/v1"):
        open(os.path.join(out_dir, d, "__init__.py"), "a").close()
    sys.path.insert(0, out_dir)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--proto-root", required=True)
    parser.add_argument("--image", required=True)
    args = parser.parse_args()

    import grpc
    with tempfile.TemporaryDirectory() as gen:
        generate(args.proto_root, gen)
        from lmeye.v1 import lmeye_pb2 as pb
        from lmeye.v1 import lmeye_pb2_grpc as pb_grpc

        image = open(args.image, "rb").read()
        report = {}
        with grpc.insecure_channel(args.address) as channel:
            stub = pb_grpc.LmeyeStub(channel)
            info = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=30)
            assert info.llm_backbone, info
            report["llm_backbone"] = info.llm_backbone

            request = pb.ChatRequest(image=image,
                                     messages=[pb.Message(role="human", text="What is this?")],
                                     params=pb.GenerationParams(max_new_tokens=5, ignore_eos=True))
            deltas, final = [], None
            for response in stub.Chat(request, timeout=60):
                assert final is None, "a message after the final one"
                if response.HasField("final"):
                    final = response.final
                else:
                    deltas.append(response.delta)
            assert final is not None, "no final message"
            assert "".join(deltas) == final.text, (deltas, final.text)
            assert final.usage.generated_tokens == 5, final
            assert final.finish_reason == pb.FINISH_REASON_LENGTH, final
            report["chat_text"] = final.text

            vqa = stub.AnswerVQA(pb.AnswerVQARequest(image=image, question="Which?",
                                                     choices=["a cat", "a dog"]), timeout=60)
            assert len(vqa.choice_scores) == 2 and vqa.choice_index in (0, 1), vqa
            report["choice"] = vqa.answer

            try:
                stub.AnswerVQA(pb.AnswerVQARequest(image=image, question="  "), timeout=30)
                raise AssertionError("an empty question was accepted")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
                assert "question" in e.details(), e.details()
                report["empty_question"] = e.code().name
        print(json.dumps(report))


if __name__ == "__main__":
    main()
