package devstack

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"
)

// The server's config names PostgreSQL for both stores and the stack's ports, and its membership
// ports fit the SQL schema's smallint (the server dies at start otherwise).
func TestProdTemporalConfig(t *testing.T) {
	o := Options{Dir: t.TempDir(), Prod: &ProdTemporal{Shards: 4}}
	if err := o.UseFreePorts(); err != nil {
		t.Fatal(err)
	}
	for _, p := range o.Prod.MembershipPorts {
		if p <= 0 || p >= 32768 {
			t.Fatalf("membership port %d: want 1..32767", p)
		}
	}
	s := &Stack{Opts: o}
	if err := s.writeServerConfig(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.serverConfigDir(), serverEnv+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Persistence struct {
			DefaultStore, VisibilityStore string
			NumHistoryShards              int `yaml:"numHistoryShards"`
			Datastores                    map[string]struct {
				SQL struct {
					PluginName  string `yaml:"pluginName"`
					ConnectAddr string `yaml:"connectAddr"`
				}
			}
		}
		Services map[string]struct {
			RPC struct {
				GRPCPort       int `yaml:"grpcPort"`
				MembershipPort int `yaml:"membershipPort"`
			}
		}
		DynamicConfigClient struct{ Filepath string } `yaml:"dynamicConfigClient"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("the server config is not YAML: %v\n%s", err, b)
	}
	if cfg.Persistence.NumHistoryShards != 4 || len(cfg.Persistence.Datastores) != 2 {
		t.Fatalf("persistence %+v", cfg.Persistence)
	}
	for name, ds := range cfg.Persistence.Datastores {
		if ds.SQL.PluginName != "postgres12" || ds.SQL.ConnectAddr != "127.0.0.1:"+itoa(o.Prod.PGPort) {
			t.Errorf("store %s: %+v", name, ds.SQL)
		}
	}
	if got := cfg.Services["frontend"].RPC.GRPCPort; got != o.TemporalPort || len(cfg.Services) != 4 {
		t.Errorf("frontend gRPC port %d, want %d; services %v", got, o.TemporalPort, cfg.Services)
	}
	if _, err := os.Stat(cfg.DynamicConfigClient.Filepath); err != nil {
		t.Errorf("dynamic config file: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
