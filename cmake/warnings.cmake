# Warning policy.
#  - Every target gets -Wall -Wextra (directory-wide, set below).
#  - Our own libraries call roller_strict_warnings(<target>) for the full set.
#  - ROLLER_WERROR (ON in tools/check and CI) turns warnings into errors for both.
include_guard(GLOBAL)

set(ROLLER_STRICT_WARNING_FLAGS
  -Wall
  -Wextra
  -Wconversion
  -Wshadow
  -Wstrict-prototypes
  -Wmissing-prototypes
  -Wswitch-enum
  -Wundef
)

add_compile_options(-Wall -Wextra)
if(ROLLER_WERROR)
  add_compile_options(-Werror)
endif()

function(roller_strict_warnings target)
  target_compile_options(${target} PRIVATE ${ROLLER_STRICT_WARNING_FLAGS})
  if(ROLLER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
