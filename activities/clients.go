package activities

import (
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sourcegraph/lifecycle/internal/config"
)

// GCPOptions are the client options for the gRPC GAPIC clients (GKE, Backup for GKE, Resource
// Manager): the real endpoints with Application Default Credentials, or the simulator.
func GCPOptions(c config.Cloud) []option.ClientOption {
	if c.GCPGRPCEndpoint == "" {
		return nil
	}
	opts := []option.ClientOption{option.WithEndpoint(c.GCPGRPCEndpoint)}
	if c.GCPInsecure {
		opts = append(opts, option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	return opts
}

// ComputeOptions are the client options for google.golang.org/api/compute/v1.
func ComputeOptions(c config.Cloud) []option.ClientOption {
	if c.ComputeEndpoint == "" {
		return nil
	}
	opts := []option.ClientOption{option.WithEndpoint(c.ComputeEndpoint)}
	if c.GCPInsecure {
		opts = append(opts, option.WithoutAuthentication())
	}
	return opts
}

// SQLAdminOptions are the client options for google.golang.org/api/sqladmin/v1.
func SQLAdminOptions(c config.Cloud) []option.ClientOption {
	if c.SQLAdminEndpoint == "" {
		return nil
	}
	opts := []option.ClientOption{option.WithEndpoint(c.SQLAdminEndpoint)}
	if c.GCPInsecure {
		opts = append(opts, option.WithoutAuthentication())
	}
	return opts
}
