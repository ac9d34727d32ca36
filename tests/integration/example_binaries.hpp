#pragma once
// The example servers the end-to-end tests run: one per HTTP framework, same routes, flags and
// stores. Each is compiled in when its adapter is built (the build passes the paths).

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#ifndef SESSIONKIT_EXAMPLE_PATH
#error "SESSIONKIT_EXAMPLE_PATH must be the path of the sessionkit-example binary"
#endif

namespace sessionkit::test {

struct example_binary {
    std::string framework;  ///< "beast", "httplib", "restinio" (the test names' suffix)
    std::string path;       ///< the executable
    std::string program;    ///< the name it announces itself with
    /// Whether a request it cannot parse gets a 4xx before the connection closes. RESTinio
    /// 0.6 closes such connections without an answer and offers no hook to send one.
    bool answers_unparseable_requests = true;
};

inline std::ostream& operator<<(std::ostream& os, const example_binary& b)
{
    return os << b.program;
}

/// Every example server that was built: Beast always, cpp-httplib and RESTinio when enabled.
inline std::vector<example_binary> example_binaries()
{
    std::vector<example_binary> all{{"beast", SESSIONKIT_EXAMPLE_PATH, "sessionkit-example", true}};
#ifdef SESSIONKIT_EXAMPLE_HTTPLIB_PATH
    all.push_back({"httplib", SESSIONKIT_EXAMPLE_HTTPLIB_PATH, "sessionkit-example-httplib", true});
#endif
#ifdef SESSIONKIT_EXAMPLE_RESTINIO_PATH
    all.push_back({"restinio", SESSIONKIT_EXAMPLE_RESTINIO_PATH, "sessionkit-example-restinio", false});
#endif
    return all;
}

/// Names parameterised tests after the framework: `.../beast`, `.../httplib`, `.../restinio`.
inline std::string framework_name(const ::testing::TestParamInfo<example_binary>& info)
{
    return info.param.framework;
}

}  // namespace sessionkit::test
