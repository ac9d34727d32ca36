#pragma once
// The store-conformance suite: one set of tests every store must pass. To run it against your
// own store, link `sessionkit_conformance` into a GoogleTest executable and add:
//
//   #include "store_conformance.hpp"
//   INSTANTIATE_TEST_SUITE_P(my_store, sessionkit::conformance::store_conformance,
//       ::testing::Values(sessionkit::conformance::store_factory{
//           "my_store",
//           [](boost::asio::any_io_executor ex) { return std::make_shared<my_store>(ex); }}),
//       sessionkit::conformance::factory_name);

#include <sessionkit/store.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

namespace sessionkit::conformance {

/// How the suite gets a store.
struct store_factory {
  std::string name;
  /// A new, empty store whose completions run on `executor`. Each test gets its own.
  std::function<std::shared_ptr<store>(boost::asio::any_io_executor executor)> make;
  /// The smallest expiry the store honours, rounded up (Redis TTLs are whole seconds).
  std::chrono::milliseconds expiry_resolution{std::chrono::milliseconds(1)};
};

/// Prints the factory's name in test output.
inline void PrintTo(const store_factory& f, std::ostream* os) { *os << f.name; }

/// The parameterised suite.
class store_conformance : public ::testing::TestWithParam<store_factory> {};

/// Names the instantiations after their factory.
inline std::string factory_name(const ::testing::TestParamInfo<store_factory>& info) { return info.param.name; }

}  // namespace sessionkit::conformance
