# The `lmeye` binary's offline modes (verify, bench, init-model, train): the model library alone, no
# gRPC. Included by server/CMakeLists.txt, or by the top level when LMEYE_BUILD_SERVER is off
# (e.g. a build against a CUDA libtorch on a GPU machine that has no gRPC).
add_executable(lmeye
  ${CMAKE_SOURCE_DIR}/server/main.cc
  ${CMAKE_SOURCE_DIR}/server/bench_main.cc
  ${CMAKE_SOURCE_DIR}/server/init_model_main.cc
  ${CMAKE_SOURCE_DIR}/server/train_main.cc
  ${CMAKE_SOURCE_DIR}/server/verify_main.cc)
lmeye_use_torch(lmeye)
target_link_libraries(lmeye PRIVATE lmeye_train lmeye_verify lmeye_ipn lmeye_common absl::strings)
