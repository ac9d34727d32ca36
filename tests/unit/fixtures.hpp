#pragma once
// Loads the reference vectors generated from the real Node packages (tests/fixtures/).

#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace sessionkit::test {

inline boost::json::array load_fixture(const std::string& file) {
  const std::string path = std::string(SESSIONKIT_FIXTURES_DIR) + "/" + file;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  std::stringstream text;
  text << in.rdbuf();
  return boost::json::parse(text.str()).as_array();
}

inline std::string str(const boost::json::value& v) { return std::string(v.as_string()); }

}  // namespace sessionkit::test
