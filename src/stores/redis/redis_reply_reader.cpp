#include "redis_reply_reader.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <new>

namespace sessionkit::detail {

redis_reply copy_reply(const redisReply* r) {
  redis_reply out;
  if (!r) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = redis_reply::kind::string; break;
    case REDIS_REPLY_STATUS: out.type = redis_reply::kind::status; break;
    case REDIS_REPLY_ERROR: out.type = redis_reply::kind::error; break;
    case REDIS_REPLY_INTEGER: out.type = redis_reply::kind::integer; break;
    case REDIS_REPLY_ARRAY: out.type = redis_reply::kind::array; break;
    default: out.type = redis_reply::kind::nil; break;
  }
  if (r->str && (out.type == redis_reply::kind::string || out.type == redis_reply::kind::status ||
                 out.type == redis_reply::kind::error))
    out.text.assign(r->str, r->len);
  out.integer = r->integer;
  if (out.type == redis_reply::kind::array) {
    out.elements.reserve(r->elements);
    for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
  }
  return out;
}

namespace {

// hiredis builds a reply depth first: an array first, then its elements in order, each complete
// before the next starts. The root is allocated; an element is appended to its parent's vector
// (growing it only moves finished siblings, never one still being filled).
redis_reply* place(const redisReadTask* task) noexcept {
  try {
    if (!task->parent) {
      // The reader's spare root (the last reply's, emptied), when there is one.
      auto* spare = static_cast<std::unique_ptr<redis_reply>*>(task->privdata);
      if (spare && *spare) return spare->release();
      return new redis_reply;
    }
    auto* parent = static_cast<redis_reply*>(task->parent->obj);
    parent->elements.emplace_back();
    return &parent->elements.back();
  } catch (const std::bad_alloc&) {
    return nullptr;  // hiredis reports "Out of memory"
  }
}

void* create_string(const redisReadTask* task, char* str, std::size_t len) {
  redis_reply* r = place(task);
  if (!r) return nullptr;
  r->type = task->type == REDIS_REPLY_STATUS  ? redis_reply::kind::status
            : task->type == REDIS_REPLY_ERROR ? redis_reply::kind::error
                                              : redis_reply::kind::string;
  try {
    r->text.assign(str, len);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  return r;
}

void* create_array(const redisReadTask* task, int elements) {
  redis_reply* r = place(task);
  if (!r) return nullptr;
  r->type = redis_reply::kind::array;
  try {
    // The announced size is reserved only up to a bound: growing past it is cheap, and a
    // huge announcement does not allocate at once.
    r->elements.reserve(static_cast<std::size_t>(std::clamp(elements, 0, 1024)));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  return r;
}

void* create_integer(const redisReadTask* task, long long value) {
  redis_reply* r = place(task);
  if (!r) return nullptr;
  r->type = redis_reply::kind::integer;
  r->integer = value;
  return r;
}

void* create_nil(const redisReadTask* task) { return place(task); }

// Only roots are freed: elements live inside them.
void free_reply(void* reply) { delete static_cast<redis_reply*>(reply); }

redisReplyObjectFunctions reply_functions{create_string, create_array, create_integer, create_nil, free_reply};

}  // namespace

redis_reply_reader::redis_reply_reader() : reader_(redisReaderCreateWithFunctions(&reply_functions)) {
  if (!reader_) throw std::bad_alloc();
  reader_->privdata = &spare_;  // hiredis hands it to every task it builds
}

redis_reply_reader::~redis_reply_reader() { redisReaderFree(reader_); }

bool redis_reply_reader::feed(const char* data, std::size_t size) {
  return redisReaderFeed(reader_, data, size) == REDIS_OK;
}

std::optional<redis_reply> redis_reply_reader::next(bool& broken) {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    broken = true;
    return std::nullopt;
  }
  if (!raw) return std::nullopt;
  std::unique_ptr<redis_reply> root(static_cast<redis_reply*>(raw));
  std::optional<redis_reply> out(std::move(*root));
  // The emptied root is the next reply's: one allocation less per reply.
  root->type = redis_reply::kind::nil;
  root->text.clear();
  root->integer = 0;
  root->elements.clear();
  spare_ = std::move(root);
  return out;
}

}  // namespace sessionkit::detail
