package stack

import (
	"errors"
	"net/http"

	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
)

const fleetName = "fleet"

// fleetPart serves POST /_sim/fleet (SeedFleet over HTTP). What it seeds lives in the other parts;
// it only counts the instances, for the state dump.
type fleetPart struct {
	s      *sim.Sim
	seeded int
}

func newFleetPart(s *sim.Sim) sim.Part { return &fleetPart{s: s} }

func (f *fleetPart) Name() string      { return fleetName }
func (f *fleetPart) GRPC(*grpc.Server) {}
func (f *fleetPart) Reset()            { f.seeded = 0 }
func (f *fleetPart) Snapshot() any     { return map[string]any{"seededInstances": f.seeded} }

// Routes registers POST /_sim/fleet {"instances":[FleetInstance...]}: 201 with the instances as
// seeded (defaults filled in, project IDs, config paths) and the config repo commit; 400 with
// {"error","field"} naming the first bad or taken field.
func (f *fleetPart) Routes(r *sim.Routes) {
	r.Handle("fleet.seed", "POST /_sim/fleet", func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Instances []FleetInstance `json:"instances"`
		}
		if err := sim.DecodeJSON(req, &body); err != nil {
			sim.WriteJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		out, err := seedFleet(f.s, body.Instances)
		var fe *spec.FieldError
		switch {
		case errors.As(err, &fe):
			sim.WriteJSON(w, 400, map[string]string{"error": fe.Error(), "field": fe.Field})
		case err != nil:
			sim.WriteJSON(w, 500, map[string]string{"error": err.Error()})
		default:
			sim.WriteJSON(w, 201, out)
		}
	})
}
