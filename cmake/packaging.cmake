# `cmake --install` and CPack's .deb (docs/install.md, "The .deb and cmake --install"):
#   bin/knoblink                                  the bridge (its build RPATH removed)
#   lib/udev/rules.d/70-knoblink.rules            device access for the user at the seat
#   lib/systemd/user/knoblink.service             the systemd user unit (ExecStart = <prefix>/bin/knoblink)
#   share/doc/knoblink/                           README, CHANGELOG, LICENSE, docs/, examples/,
#                                                 udev/71-knoblink-autostart.rules (opt-in)
include(GNUInstallDirs)

install(TARGETS knoblink RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# $ORIGIN/lib is for the extension zip's bin/lib/ (bridge/CMakeLists.txt); installed, the
# system's libraries are the ones to use.
install(CODE "file(RPATH_REMOVE FILE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/knoblink\")")
install(FILES contrib/udev/70-knoblink.rules DESTINATION lib/udev/rules.d)
# The unit names the installed executable: written at install time, when the prefix is known
# (CPack installs with CPACK_PACKAGING_INSTALL_PREFIX, not the configured prefix).
install(CODE "
  set(KNOBLINK_BIN \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/knoblink\")
  set(KNOBLINK_DOC_DIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/contrib/systemd/knoblink.service.in\"
                 \"${PROJECT_BINARY_DIR}/install/knoblink.service\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/install/knoblink.service DESTINATION lib/systemd/user)
install(FILES README.md CHANGELOG.md LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples FILES_MATCHING PATTERN "*.yaml")
install(FILES contrib/udev/71-knoblink-autostart.rules DESTINATION ${CMAKE_INSTALL_DOCDIR}/udev)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME knoblink)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR knoblink)
set(CPACK_PACKAGE_CONTACT "knoblink maintainers <knoblink@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "knob boxes, MIDI, HID and OSC controllers as live controllers for Blender")
set(CPACK_PACKAGE_DESCRIPTION "knoblink reads a hand-built knob box (Arduino, serial), USB HID devices,
MIDI controllers and OSC apps, maps them with a YAML file and drives Blender
through its KnobLink add-on. Includes udev rules and a systemd user unit.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # knoblink_X.Y.Z_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE https://github.com/knoblink/knoblink)
# The libraries linked dynamically (libudev1, libasound2, libjack, spdlog, fmt, glibc, libstdc++)
# are found by dpkg-shlibdeps; the KNOBLINK_STATIC_DEPS ones are inside the executable.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "blender")
include(CPack)

# `cmake --build build --target extension`: the extension zip of this build tree in
# <build>/dist/ (scripts/package; scripts/release makes the versioned release files).
find_package(Python3 3.11 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_custom_target(extension
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/package --build-dir ${PROJECT_BINARY_DIR}
            --out ${PROJECT_BINARY_DIR}/dist
    DEPENDS knoblink USES_TERMINAL)
endif()
