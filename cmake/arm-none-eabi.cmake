# Toolchain: bare-metal Cortex-M4F (nRF52832/nRF52840) with arm-none-eabi-gcc + newlib.
# Used by tools/firmware (see tools/firmware-check). Libraries only: nothing is linked
# into an image here, so try_compile builds a static library instead of an executable.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(ROLLER_ARM_PREFIX arm-none-eabi- CACHE STRING "Cross tool prefix")
set(CMAKE_C_COMPILER ${ROLLER_ARM_PREFIX}gcc)
set(CMAKE_ASM_COMPILER ${ROLLER_ARM_PREFIX}gcc)
set(CMAKE_AR ${ROLLER_ARM_PREFIX}ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${ROLLER_ARM_PREFIX}ranlib CACHE FILEPATH "")
set(CMAKE_OBJCOPY ${ROLLER_ARM_PREFIX}objcopy CACHE FILEPATH "")
set(CMAKE_SIZE ${ROLLER_ARM_PREFIX}size CACHE FILEPATH "")
set(CMAKE_NM ${ROLLER_ARM_PREFIX}nm CACHE FILEPATH "")

set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(ROLLER_ARM_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT "${ROLLER_ARM_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${ROLLER_ARM_FLAGS}")
# Size is what matters on the device: every build type optimises for it.
set(CMAKE_C_FLAGS_DEBUG_INIT "-Os -g")
set(CMAKE_C_FLAGS_RELEASE_INIT "-Os -DNDEBUG")
set(CMAKE_C_FLAGS_MINSIZEREL_INIT "-Os -DNDEBUG")
set(CMAKE_C_FLAGS_RELWITHDEBINFO_INIT "-Os -g -DNDEBUG")

# Never pick up host libraries or headers.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
