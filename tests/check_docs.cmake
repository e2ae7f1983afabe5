# Fails when docs/config-reference.md differs from what the code generates.
execute_process(COMMAND ${PROGRAM} --print-config-reference OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "--print-config-reference failed")
endif()
file(READ ${DOC} committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "docs/config-reference.md is out of date: regenerate it with `tributary-collector --print-config-reference > docs/config-reference.md`")
endif()
