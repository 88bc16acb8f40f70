#!/usr/bin/env python3
"""An independent client of the Lmeye API: Python grpcio (Debian's python3-grpcio) with message
classes that protoc generates from proto/lmeye/v1/lmeye.proto, no code of ours. Run by
grpc_python_client_test against a loopback server.

Usage: grpc_python_client.py ADDRESS GENERATED_DIR
Prints one line per check; exits non-zero at the first failure.
"""
import sys

import grpc


def main():
    address, generated = sys.argv[1], sys.argv[2]
    sys.path.insert(0, generated)
    from lmeye.v1 import lmeye_pb2 as pb  # noqa: E402 (generated at test time)

    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=10)

    def method(name, request_cls, response_cls, streaming=False):
        make = channel.unary_stream if streaming else channel.unary_unary
        return make("/lmeye.v1.Lmeye/" + name,
                    request_serializer=request_cls.SerializeToString,
                    response_deserializer=response_cls.FromString)

    chat = method("Chat", pb.ChatRequest, pb.ChatResponse, streaming=True)
    request = pb.ChatRequest(image=b"png", messages=[pb.Message(role="human", text="Hi there")])
    request.params.max_new_tokens = 8
    deltas, finals = [], []
    for response in chat(request, timeout=10):
        if response.HasField("delta"):
            deltas.append(response.delta)
        else:
            finals.append(response.final)
    assert deltas == ["Hello", ",", " world", "!"], deltas
    assert len(finals) == 1 and finals[0].text == "Hello, world!", finals
    assert finals[0].finish_reason == pb.FINISH_REASON_EOS, finals[0]
    assert finals[0].usage.generated_tokens == 4, finals[0]
    print("chat: ok")

    info = method("GetModelInfo", pb.GetModelInfoRequest, pb.ModelInfo)(
        pb.GetModelInfoRequest(), timeout=10)
    assert info.dtype == "fp32" and info.limits.max_image_bytes == 1024, info
    print("info: ok")

    vqa = method("AnswerVQA", pb.AnswerVQARequest, pb.AnswerVQAResponse)
    bad = pb.AnswerVQARequest(image=b"jpeg", question="Why?")
    bad.params.temperature = -1
    try:
        vqa(bad, timeout=10)
        raise AssertionError("a negative temperature was accepted")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.code()
        assert error.details().startswith("params.temperature"), error.details()
    print("invalid argument: ok")

    answer = vqa(pb.AnswerVQARequest(image=b"jpeg", question="Why?"), timeout=10)
    assert answer.answer == "Hello, world!" and answer.choice_index == -1, answer
    print("vqa: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
