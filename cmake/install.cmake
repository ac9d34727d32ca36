# Installing sessionkit: headers, the static libraries, a CMake package (a targets file per
# component, `sessionkitConfig.cmake` and a SameMajorVersion version file) and a pkg-config file
# per component. The build tree exports the same targets, for find_package from a build tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(sessionkit_cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/sessionkit")

# The components that were built, and their targets.
set(sessionkit_built core)
foreach(component redis sqlite beast httplib restinio)
  if(TARGET sessionkit_${component})
    list(APPEND sessionkit_built ${component})
  endif()
endforeach()

foreach(component IN LISTS sessionkit_built)
  set_target_properties(sessionkit_${component} PROPERTIES EXPORT_NAME ${component})
  install(TARGETS sessionkit_${component} EXPORT sessionkit-${component}-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
          INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT sessionkit-${component}-targets NAMESPACE sessionkit:: DESTINATION ${sessionkit_cmake_dir}
          COMPONENT dev)
  export(EXPORT sessionkit-${component}-targets NAMESPACE sessionkit::
         FILE "${PROJECT_BINARY_DIR}/sessionkit-${component}-targets.cmake")
endforeach()

# Headers: the core's and those of the components that were built.
set(sessionkit_header_excludes)
foreach(component redis sqlite)
  if(NOT TARGET sessionkit_${component})
    list(APPEND sessionkit_header_excludes PATTERN "stores/${component}_store.hpp" EXCLUDE)
  endif()
endforeach()
foreach(component beast httplib restinio)
  if(NOT TARGET sessionkit_${component})
    list(APPEND sessionkit_header_excludes PATTERN "adapters/${component}.hpp" EXCLUDE)
  endif()
endforeach()
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/sessionkit" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.hpp" ${sessionkit_header_excludes})
install(FILES "${PROJECT_BINARY_DIR}/include/sessionkit/version.hpp"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sessionkit COMPONENT dev)

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/sessionkitConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/sessionkitConfig.cmake"
                              INSTALL_DESTINATION ${sessionkit_cmake_dir})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/sessionkitConfigVersion.cmake"
                                 COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/sessionkitConfig.cmake" "${PROJECT_BINARY_DIR}/sessionkitConfigVersion.cmake"
        DESTINATION ${sessionkit_cmake_dir} COMPONENT dev)

# pkg-config: sessionkit (the core) and sessionkit-<component>. The libraries are static, so
# each .pc names what they link against.
# Relocatable: the prefix is found from the .pc file's own place (`cmake --install --prefix`).
file(RELATIVE_PATH pc_relative_prefix "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" pc_relative_prefix "${pc_relative_prefix}")
function(sessionkit_pkg_config name description requires libs cflags)
  set(pc_name ${name})
  set(pc_description "${description}")
  set(pc_requires "${requires}")
  set(pc_libs "${libs}")
  set(pc_cflags "${cflags}")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/sessionkit.pc.in" "${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
          COMPONENT dev)
endfunction()

sessionkit_pkg_config(sessionkit "Server-side HTTP sessions for C++, wire-compatible with express-session"
                      "libcrypto" "-lsessionkit_core -lboost_json -pthread" "")
if(TARGET sessionkit_redis)
  sessionkit_pkg_config(sessionkit-redis "sessionkit's RedisStore (connect-redis compatible)"
                        "sessionkit hiredis libssl" "-lsessionkit_redis" "")
endif()
if(TARGET sessionkit_sqlite)
  sessionkit_pkg_config(sessionkit-sqlite "sessionkit's SqliteStore" "sessionkit sqlite3" "-lsessionkit_sqlite" "")
endif()
if(TARGET sessionkit_beast)
  sessionkit_pkg_config(sessionkit-beast "sessionkit on Boost.Beast" "sessionkit" "-lsessionkit_beast" "")
endif()
if(TARGET sessionkit_httplib)
  sessionkit_pkg_config(sessionkit-httplib "sessionkit on cpp-httplib" "sessionkit cpp-httplib" "-lsessionkit_httplib" "")
endif()
if(TARGET sessionkit_restinio)
  sessionkit_pkg_config(sessionkit-restinio "sessionkit on RESTinio" "sessionkit fmt"
                        "-lsessionkit_restinio -lhttp_parser" "-DRESTINIO_USE_BOOST_ASIO")
endif()
