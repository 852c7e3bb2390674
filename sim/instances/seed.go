package instances

import "time"

// HostOwner returns the slug of the configured instance serving hostname. Lock held.
func (p *Part) HostOwner(hostname string) (slug string, ok bool) {
	slug, ok = p.byHost[hostname]
	return slug, ok
}

// BackdateRollout moves the landing of a freshly configured instance's only version to mergedAt,
// for instances seeded as deployed long before the simulator started: their rollout is over. It
// reports false (and changes nothing) for an unknown slug or one with a rollout history. Lock held.
func (p *Part) BackdateRollout(slug string, mergedAt time.Time) bool {
	inst := p.bySlug[slug]
	if inst == nil || len(inst.rollouts) != 1 {
		return false
	}
	inst.rollouts[0].at = mergedAt
	return true
}
