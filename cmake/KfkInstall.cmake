# KfkInstall.cmake -- what `cmake --install` (and `make install`) puts
# where, in the standard folders of GNUInstallDirs:
#
#   bin/                 kfkd, kfk
#   lib/ or lib64/       libkfk.so.0 (and its links), libkfk.a, and the
#                        embeddable broker libkfkd.so.0, libkfkd.a
#   include/kfk/         the public headers (kfkd.h: libkfkd)
#   lib/pkgconfig/       libkfk.pc, libkfkd.pc
#   lib/cmake/kfk/       kfkConfig.cmake, kfkConfigVersion.cmake and the
#                        exported targets kfk::kfk (shared), kfk::kfk_static,
#                        kfk::kfkd (shared), kfk::kfkd_static
#   share/man/man1, man8 kfk(1), kfkd(8)
#   share/doc/kfk/       LICENSE, README.md, CHANGELOG.md
#
# Included at the end of the top CMakeLists.txt, after the targets exist.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KFK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kfk)

# The exported names: kfk::kfk is the shared library, kfk::kfk_static the
# archive; both carry the include folder, the archive its dependencies.
set_target_properties(kfk_shared PROPERTIES EXPORT_NAME kfk)
set_target_properties(kfk_static PROPERTIES EXPORT_NAME kfk_static)
set_target_properties(kfkd_shared PROPERTIES EXPORT_NAME kfkd)
set_target_properties(kfkd_static PROPERTIES EXPORT_NAME kfkd_static)
foreach(t kfk_shared kfk_static kfkd_shared kfkd_static)
  target_include_directories(${t} INTERFACE
    $<BUILD_INTERFACE:${CMAKE_BINARY_DIR}/include>
    $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()

install(TARGETS kfkd kfk RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS kfk_shared kfk_static kfkd_shared kfkd_static
        EXPORT kfkTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The headers, and version.h made from its template in the build tree.
install(DIRECTORY include/kfk DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/include/kfk/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kfk)
install(EXPORT kfkTargets NAMESPACE kfk:: FILE kfkTargets.cmake
        DESTINATION ${KFK_CMAKE_DIR})
configure_package_config_file(cmake/kfkConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/kfkConfig.cmake
  INSTALL_DESTINATION ${KFK_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/kfkConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/kfkConfig.cmake
        ${CMAKE_BINARY_DIR}/cmake/kfkConfigVersion.cmake
        DESTINATION ${KFK_CMAKE_DIR})

# libkfk.pc: relocatable (prefix found from the .pc file's own folder), so
# that `cmake --install --prefix` and DESTDIR staging give a correct file.
# Snappy goes in Requires.private where it has a .pc, else in Libs.private.
set(KFK_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH KFK_PC_RELPREFIX ${CMAKE_INSTALL_PREFIX}/${KFK_PC_DIR}
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" KFK_PC_RELPREFIX "${KFK_PC_RELPREFIX}")
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(KFK_PC_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(KFK_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
pkg_check_modules(KFK_SNAPPY_PC QUIET snappy)
set(KFK_PC_REQUIRES_PRIVATE "zlib, libzstd, liblz4")
set(KFK_PC_LIBS_PRIVATE "-pthread -lm")
if(KFK_SNAPPY_PC_FOUND)
  string(APPEND KFK_PC_REQUIRES_PRIVATE ", snappy")
else()
  set(KFK_PC_LIBS_PRIVATE "-lsnappy ${KFK_PC_LIBS_PRIVATE}")
endif()
# libkfkd also needs the etcd client's HTTP and JSON libraries: in
# Libs.private, not Requires.private, because `pkg-config --static
# libcurl` names every protocol library of curl's own static build (ssh2,
# ldap, rtmp...), which Debian does not install; a static libkfkd over the
# shared libcurl needs only -lcurl.
set(KFKD_PC_LIBS_PRIVATE "-lcurl -ljansson ${KFK_PC_LIBS_PRIVATE}")
configure_file(libkfk.pc.in ${CMAKE_BINARY_DIR}/lib/libkfk.pc @ONLY)
configure_file(libkfkd.pc.in ${CMAKE_BINARY_DIR}/lib/libkfkd.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/lib/libkfk.pc
        ${CMAKE_BINARY_DIR}/lib/libkfkd.pc DESTINATION ${KFK_PC_DIR})

# The man pages carry the version from project(), like version.h.
configure_file(man/kfk.1.in ${CMAKE_BINARY_DIR}/man/kfk.1 @ONLY)
configure_file(man/kfkd.8.in ${CMAKE_BINARY_DIR}/man/kfkd.8 @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/man/kfk.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_BINARY_DIR}/man/kfkd.8
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES LICENSE README.md CHANGELOG.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
