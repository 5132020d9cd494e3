# KNOBLINK_STATIC_DEPS: the libraries Debian ships as static archives (yaml-cpp, libserialport,
# hidapi, RtMidi, liblo) are linked into knoblink instead of loaded at run time, so the
# executable the extension zip bundles needs none of them installed (docs/install.md,
# "What the executable needs"). spdlog, fmt and JACK have no .a in Debian: the zip bundles
# their shared libraries (scripts/package).

# Swaps the .so of imported target tgt for the .a beside it, and adds what the archive itself
# needs (extra: library names, e.g. udev for hidapi, whose .pc does not say so).
function(knoblink_prefer_static tgt)
  cmake_parse_arguments(arg "" "" "EXTRA" ${ARGN})
  get_target_property(type ${tgt} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(libs ${tgt} INTERFACE_LINK_LIBRARIES)
    set(out)
    foreach(lib IN LISTS libs)
      string(REGEX REPLACE "\\.so$" ".a" archive "${lib}")
      if(NOT archive STREQUAL lib AND EXISTS "${archive}")
        list(APPEND out "${archive}")
      else()
        list(APPEND out "${lib}")
      endif()
    endforeach()
    list(APPEND out ${arg_EXTRA})
    set_property(TARGET ${tgt} PROPERTY INTERFACE_LINK_LIBRARIES "${out}")
  else()  # a SHARED IMPORTED target (yaml-cpp's CMake config)
    get_target_property(so ${tgt} IMPORTED_LOCATION_NONE)
    string(REGEX REPLACE "\\.so(\\.[0-9]+)*$" ".a" archive "${so}")
    if(NOT EXISTS "${archive}")
      message(FATAL_ERROR "KNOBLINK_STATIC_DEPS: no ${archive} beside ${so}")
    endif()
    set_target_properties(${tgt} PROPERTIES IMPORTED_LOCATION_NONE "${archive}" IMPORTED_SONAME_NONE "")
    set_property(TARGET ${tgt} PROPERTY IMPORTED_LINK_INTERFACE_LANGUAGES_NONE CXX)
    set_property(TARGET ${tgt} APPEND PROPERTY INTERFACE_LINK_LIBRARIES ${arg_EXTRA})
  endif()
endfunction()
