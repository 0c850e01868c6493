#include "core/mailbox.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>

namespace tern {

mailbox::~mailbox() { std::free(ring_); }

void mailbox::grow() {
  uint32_t new_capacity = capacity_ ? capacity_ * 2 : kInitialCapacity;
  auto* fresh = static_cast<message*>(std::malloc(sizeof(message) * new_capacity));
  if (!fresh) throw std::bad_alloc();
  for (uint32_t i = 0; i < count_; ++i) fresh[i] = ring_[(head_ + i) & (capacity_ - 1)];
  std::free(ring_);
  ring_ = fresh;
  capacity_ = new_capacity;
  head_ = 0;
}

bool mailbox::push(const message& m) {
  std::lock_guard guard(lock_);
  if (count_ == capacity_) grow();
  ring_[(head_ + count_) & (capacity_ - 1)] = m;
  ++count_;
  if (in_global_) return false;
  in_global_ = true;
  return true;
}

size_t mailbox::pop_batch(message* out, size_t max, int weight, uint32_t* overload) {
  std::lock_guard guard(lock_);
  size_t n = weight < 0 ? 1 : std::max<size_t>(1, count_ >> weight);
  n = std::min({n, max, size_t(count_)});
  for (size_t i = 0; i < n; ++i) {
    out[i] = ring_[head_];
    head_ = (head_ + 1) & (capacity_ - 1);
  }
  if (count_ > overload_threshold_) {
    *overload = count_;
    overload_threshold_ *= 2;
  }
  count_ -= uint32_t(n);
  if (count_ == 0) overload_threshold_ = kOverloadThreshold;
  return n;
}

bool mailbox::end_turn() {
  std::lock_guard guard(lock_);
  if (count_ == 0) in_global_ = false;
  return in_global_;
}

size_t mailbox::size() const {
  std::lock_guard guard(lock_);
  return count_;
}


}  // namespace tern
