#include "entry_table.hpp"

namespace weightkit::xnnpack {

bool matches(const Entry& e, const EntryKey& k) {
  if (e.seed_known && e.seed != k.seed) return false;
  if (e.integrity.packer_id != 0 &&
      (e.integrity.packer_id != k.packer_id || e.integrity.packer_version != k.packer_version)) {
    return false;
  }
  if (k.input_hash != 0 && e.integrity.input_hash != k.input_hash) return false;
  return true;
}

EntryView view_of(const Entry& e) {
  EntryView v;
  v.data = e.data;
  v.size = e.size;
  v.token = e.id;
  v.file_backed = e.in_file();
  v.loaded = e.kind == Kind::kLoaded;
  v.keep = e.storage;
  v.base = e.region ? e.region->data() : e.data;
  v.base_size = e.region ? e.region->size() : e.size;
  return v;
}

Entry* EntryTable::find(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second.get();
}

Entry* EntryTable::find_id(uint64_t id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

Entry* EntryTable::put(std::unique_ptr<Entry> e, bool* superseded) {
  *superseded = false;
  e->id = next_id_++;
  auto it = by_name_.find(e->name);
  if (it != by_name_.end()) {
    *superseded = true;
    by_id_.erase(it->second->id);
    if (it->second->refs > 0) retired_.push_back(std::move(it->second));  // a runtime still reads it
    by_name_.erase(it);
  }
  Entry* raw = e.get();
  by_id_[raw->id] = raw;
  by_name_.emplace(raw->name, std::move(e));
  return raw;
}

void EntryTable::drop(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return;
  by_id_.erase(it->second->id);
  if (it->second->refs > 0) retired_.push_back(std::move(it->second));
  by_name_.erase(it);
}

void EntryTable::release(const std::string& name) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    Entry& e = *it->second;
    if (e.refs > 0) e.refs--;
    if (e.refs == 0 && !e.persistent && e.kind == Kind::kHeap) {
      by_id_.erase(e.id);
      by_name_.erase(it);
    }
    return;
  }
  for (auto r = retired_.begin(); r != retired_.end(); ++r) {
    if ((*r)->name != name) continue;
    if (--(*r)->refs <= 0) retired_.erase(r);
    return;
  }
}

}  // namespace weightkit::xnnpack
