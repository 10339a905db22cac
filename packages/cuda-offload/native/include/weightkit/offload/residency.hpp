// weightkit/offload/residency.hpp — choosing the residency plan a runtime
// executes: beside the planner, which proposes the candidates, and apart from
// the runtime, which only runs what it is given.
#pragma once

#include <vector>

#include "weightkit/offload/runtime.hpp"

namespace weightkit::offload {

/// Dry-runs each of the planner's candidates (residency_candidates) on a
/// timing device with the copy cost the real device reported, with and
/// without look-ahead into the next pass (a pass ends in a synchronize, and a
/// reserve filled with the next pass's first weights leaves the copy engine
/// idle at its start), and picks by `opts.objective`:
///  - kFastest: among the plans whose modelled pass is within 2% of the
///    fastest (the dry run is a model: closer than that is noise of the
///    model, not a difference), the one that moves the fewest bytes;
///  - kFewestBytes: the fewest bytes, then the fastest.
/// Next-use with unequal sizes can take several passes to settle into its
/// cycle, so each plan is judged on its worst pass of six after two warm-up
/// passes. Without a compute model time says nothing, so it takes the plan
/// that moves the fewest bytes (plan_residency).
ResidencyPlan choose_residency(const std::vector<HostWeight>& weights, const Schedule& schedule, const RuntimeOptions& opts,
                               const CopyCost& copy);

/// choose_residency for these weights, schedule and options, as the chooser
/// Runtime::create calls once it knows the device's copy cost.
ResidencyChooser residency_chooser(std::vector<HostWeight> weights, Schedule schedule, RuntimeOptions opts);

}  // namespace weightkit::offload
