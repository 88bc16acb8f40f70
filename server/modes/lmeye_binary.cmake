# The `lmeye` binary's offline modes (verify, bench, init-model, export-gguf, train): the model library alone, no
# gRPC. Included by server/CMakeLists.txt, or by the top level when LMEYE_BUILD_SERVER is off
# (e.g. a build against a CUDA libtorch on a GPU machine that has no gRPC).
add_executable(lmeye
  ${CMAKE_SOURCE_DIR}/server/modes/main.cc
  ${CMAKE_SOURCE_DIR}/server/modes/bench_main.cc
  ${CMAKE_SOURCE_DIR}/server/modes/device_flag.cc
  ${CMAKE_SOURCE_DIR}/server/modes/export_gguf_main.cc
  ${CMAKE_SOURCE_DIR}/server/modes/import_main.cc
  ${CMAKE_SOURCE_DIR}/server/modes/init_model_main.cc
  ${CMAKE_SOURCE_DIR}/server/modes/mode_flags.cc
  ${CMAKE_SOURCE_DIR}/server/modes/verify_main.cc)
lmeye_use_torch(lmeye)
target_link_libraries(lmeye PRIVATE lmeye_verify lmeye_tools lmeye_ipn lmeye_common lmeye_flags
  absl::strings)
# `lmeye train` where the training library builds (it needs yaml-cpp and the OpenCV libraries,
# which a GPU machine with OpenCV headers only lacks; see model/train/CMakeLists.txt).
if(TARGET lmeye_train)
  target_sources(lmeye PRIVATE ${CMAKE_SOURCE_DIR}/server/modes/train_main.cc)
  target_link_libraries(lmeye PRIVATE lmeye_train)
  target_compile_definitions(lmeye PRIVATE LMEYE_WITH_TRAIN=1)
endif()
# `lmeye data` where the torch-free dataset library builds (it needs the OpenCV libraries); its
# shapes dataset adds matching.jsonl when the training library is linked too.
if(TARGET lmeye_synth)
  target_sources(lmeye PRIVATE ${CMAKE_SOURCE_DIR}/server/modes/data_main.cc
    ${CMAKE_SOURCE_DIR}/server/modes/data_tokenizer_main.cc)
  target_link_libraries(lmeye PRIVATE lmeye_synth)
  target_compile_definitions(lmeye PRIVATE LMEYE_WITH_DATA=1)
endif()
