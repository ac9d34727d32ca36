// One Redis (or the master the sentinels name): every command goes on one connection.

#include "redis_client.hpp"

namespace sessionkit::detail {
namespace {

class single_redis_client final : public redis_client {
 public:
  single_redis_client(boost::asio::any_io_executor executor, redis_connection::settings settings)
      : connection_(std::make_shared<redis_connection>(std::move(executor), std::move(settings))) {}

  void start() override { connection_->start(); }
  void stop() override { connection_->stop(); }
  void execute(std::string_view, std::string wire, std::size_t replies, reply_handler handler) override {
    connection_->execute_pipeline(std::move(wire), replies, std::move(handler));
  }
  void execute_with_wait(std::string_view, std::string wire, unsigned replicas, std::chrono::milliseconds timeout,
                         reply_handler handler) override {
    connection_->execute_with_wait(std::move(wire), replicas, timeout, std::move(handler));
  }
  void execute_on(const std::string&, std::string wire, std::size_t replies, reply_handler handler) override {
    connection_->execute_pipeline(std::move(wire), replies, std::move(handler));
  }
  std::string holder_of(unsigned) override { return "redis"; }
  void refresh_soon() override {}
  bool is_cluster() const noexcept override { return false; }
  void post(unique_function<void()> fn) override { connection_->post(std::move(fn)); }
  void post_after(std::chrono::milliseconds delay, unique_function<void()> fn) override {
    connection_->post_after(delay, std::move(fn));
  }
  bool ready() const noexcept override { return connection_->ready(); }
  std::uint64_t writes() const noexcept override { return connection_->writes(); }

 private:
  std::shared_ptr<redis_connection> connection_;
};

}  // namespace

std::shared_ptr<redis_client> make_single_redis_client(boost::asio::any_io_executor executor,
                                                       redis_connection::settings settings) {
  return std::make_shared<single_redis_client>(std::move(executor), std::move(settings));
}

}  // namespace sessionkit::detail
