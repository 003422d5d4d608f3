# Writes OUTPUT, a header with the source's git commit, at every build, and only when it changed (so
# that nothing recompiles for nothing). Run by the build (CMakeLists.txt): cmake -DSOURCE=... -DOUTPUT=... -P
execute_process(COMMAND git -C "${SOURCE}" describe --always --dirty --abbrev=12 --exclude "*"
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE failed)
if(failed OR commit STREQUAL "")
  set(commit "unknown (not built from a git checkout)")
endif()
set(text "#pragma once\n#define NABLA_COMMIT \"${commit}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
