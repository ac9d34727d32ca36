# Debian packages with CPack (`cpack -G DEB` in a build tree): libsessionkit-dev (headers, static
# libraries, CMake package, pkg-config files), sessionkit-tools (sessionctl) and
# sessionkit-examples (the example servers), installed under /usr.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sessionkit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "sessionkit")
set(CPACK_PACKAGE_CONTACT "sessionkit maintainers <sessionkit@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Server-side HTTP sessions for C++, wire-compatible with express-session")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_STRIP_FILES ON)  # no debug info in the packages

set(CPACK_COMPONENTS_ALL dev)
if(TARGET sessionctl)
  list(APPEND CPACK_COMPONENTS_ALL tools)
endif()
if(TARGET sessionkit-example)
  list(APPEND CPACK_COMPONENTS_ALL examples)
endif()

# The libraries are static: whoever links them needs the development packages of what they use.
set(sessionkit_dev_depends "libboost1.81-dev, libboost-json1.81-dev, libssl-dev (>= 3)")
if(TARGET sessionkit_redis)
  string(APPEND sessionkit_dev_depends ", libhiredis-dev")
endif()
if(TARGET sessionkit_sqlite)
  string(APPEND sessionkit_dev_depends ", libsqlite3-dev")
endif()
if(TARGET sessionkit_httplib)
  string(APPEND sessionkit_dev_depends ", libcpp-httplib-dev")
endif()
if(TARGET sessionkit_restinio)
  string(APPEND sessionkit_dev_depends ", librestinio-dev")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libsessionkit-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${sessionkit_dev_depends}")
set(CPACK_COMPONENT_DEV_DESCRIPTION "sessionkit: headers, static libraries, CMake package and pkg-config files")

# The programs: their run-time libraries found by dpkg-shlibdeps.
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME sessionkit-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION "sessionctl: count, list, show and end sessions in Redis and SQLite stores")
set(CPACK_DEBIAN_EXAMPLES_PACKAGE_NAME sessionkit-examples)
set(CPACK_DEBIAN_EXAMPLES_PACKAGE_SECTION web)
set(CPACK_DEBIAN_EXAMPLES_PACKAGE_SHLIBDEPS ON)
set(CPACK_COMPONENT_EXAMPLES_DESCRIPTION "sessionkit's example servers (Beast, cpp-httplib, RESTinio)")

include(CPack)
