#include "receivers/otlp/deadline_queue.h"

#include <algorithm>
#include <vector>

namespace tributary::receivers::otlp {

DeadlineQueue::~DeadlineQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t DeadlineQueue::At(core::Deadline when, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  pending_.emplace(std::make_pair(when, id), std::move(fn));
  when_.emplace(id, when);
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  cv_.notify_all();
  return id;
}

void DeadlineQueue::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = when_.find(id);
  if (it == when_.end()) return;
  pending_.erase({it->second, id});
  when_.erase(it);
}

void DeadlineQueue::Expedite(core::Deadline when) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::pair<core::Deadline, uint64_t>, std::function<void()>> moved;
  for (auto& [key, fn] : pending_) {
    const core::Deadline at = std::min(key.first, when);
    moved.emplace(std::make_pair(at, key.second), std::move(fn));
    when_[key.second] = at;
  }
  pending_.swap(moved);
  cv_.notify_all();
}

void DeadlineQueue::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (pending_.empty()) {
      if (stop_) return;
      cv_.wait(lock);
      continue;
    }
    auto first = pending_.begin();
    // A copy: the entry may be cancelled (and freed) while this waits.
    const core::Deadline due = first->first.first;
    if (!stop_ && due > core::Clock::now()) {
      cv_.wait_until(lock, due);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    when_.erase(first->first.second);
    pending_.erase(first);
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace tributary::receivers::otlp
