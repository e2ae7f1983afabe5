#ifndef TRIBUTARY_CORE_ORDERED_ACKS_H_
#define TRIBUTARY_CORE_ORDERED_ACKS_H_

#include <cstddef>
#include <map>
#include <optional>
#include <utility>

namespace tributary::core {

// Positions handed on in order (file offsets, Kafka offsets, buffer
// sequence numbers) and acknowledged in any order: the commit point moves
// past a position only once it and every position before it are
// acknowledged, so a restart resumes at the first one not yet delivered.
//
// Not thread-safe: the owner calls it under its own lock. `Value` is what the
// owner keeps per position until it is settled (a byte count, an end offset).
template <class Key, class Value = bool>
class OrderedAcks {
 public:
  // A position handed on and not yet acknowledged. Keys need not be added in
  // order, but the commit point never passes a key not yet added.
  void Add(Key key, Value value = Value{}) {
    auto [it, inserted] = pending_.insert_or_assign(key, Entry{value, false});
    static_cast<void>(it);
    if (inserted) ++outstanding_;
  }

  // Marks `key` acknowledged, then settles the acknowledged run at the front:
  // `settled(key, value)` is called for each, in order. Returns the value of
  // `key`; nullopt, changing nothing, when it is not outstanding (unknown,
  // forgotten, or acknowledged already).
  template <class Settled>
  std::optional<Value> Acknowledge(Key key, Settled&& settled) {
    auto it = pending_.find(key);
    if (it == pending_.end() || it->second.acknowledged) return std::nullopt;
    --outstanding_;
    it->second.acknowledged = true;
    std::optional<Value> value = it->second.value;
    while (!pending_.empty() && pending_.begin()->second.acknowledged) {
      auto front = pending_.begin();
      settled(front->first, front->second.value);
      pending_.erase(front);
    }
    return value;
  }
  std::optional<Value> Acknowledge(Key key) {
    return Acknowledge(key, [](const Key&, const Value&) {});
  }

  // Forgets every position from `key` on (a rewind re-reads them) and returns
  // how many.
  size_t ForgetFrom(Key key) {
    auto from = pending_.lower_bound(key);
    size_t n = 0;
    for (auto it = from; it != pending_.end(); ++it, ++n) {
      if (!it->second.acknowledged) --outstanding_;
    }
    pending_.erase(from, pending_.end());
    return n;
  }
  void Clear() {
    pending_.clear();
    outstanding_ = 0;
  }

  bool Contains(Key key) const { return pending_.count(key) > 0; }
  // The first position not yet settled.
  std::optional<Key> first() const {
    if (pending_.empty()) return std::nullopt;
    return pending_.begin()->first;
  }
  bool empty() const { return pending_.empty(); }
  // Positions not settled: not acknowledged, or behind one that is not.
  size_t size() const { return pending_.size(); }
  // Positions not acknowledged.
  size_t outstanding() const { return outstanding_; }

 private:
  struct Entry {
    Value value;
    bool acknowledged;
  };
  std::map<Key, Entry> pending_;
  size_t outstanding_ = 0;
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_ORDERED_ACKS_H_
