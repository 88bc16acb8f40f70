# ctest's fuzz_<name>: fuzzes a fresh copy of the seed corpus (and regressions) in the build
# folder, so the checkout is never written, for SECONDS (the environment's FUZZ_SECONDS wins).
#   cmake -DFUZZER=<binary> -DINPUTS=<dir;dir> -DWORK_DIR=<dir> -DSECONDS=<n> -P run_fuzzer.cmake
# Fails when libFuzzer does (a crash, leak, sanitizer report, timeout or out-of-memory); the
# input is then saved as WORK_DIR/crash-* (or leak-*, timeout-*, oom-*).
if(DEFINED ENV{FUZZ_SECONDS} AND NOT "$ENV{FUZZ_SECONDS}" STREQUAL "")
  set(SECONDS $ENV{FUZZ_SECONDS})
endif()
# Fuzzers whose parser reads a path write each input to a file under $TMPDIR (fuzz_input.h), and
# train_manifest writes manifests with fsync: in memory that costs nothing, on disk it made the
# run ~50 inputs a second.
if(IS_DIRECTORY /dev/shm)
  set(ENV{TMPDIR} /dev/shm)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR}/corpus)
foreach(dir ${INPUTS})
  file(GLOB seeds LIST_DIRECTORIES false ${dir}/*)
  if(seeds)
    file(COPY ${seeds} DESTINATION ${WORK_DIR}/corpus)
  endif()
endforeach()
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10
    -print_final_stats=1 -artifact_prefix=${WORK_DIR}/ ${WORK_DIR}/corpus
  WORKING_DIRECTORY ${WORK_DIR}
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${status}); the input is in ${WORK_DIR}")
endif()
