package gkebackup

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// listRequest is what every List* request has.
type listRequest interface {
	GetPageSize() int32
	GetPageToken() string
	GetFilter() string
	GetOrderBy() string
}

// list answers a List* call over the resources whose parent matches (parent segments "-" match
// anything, e.g. "projects/p/locations/-/backupPlans/-"): AIP-160 filtering (see matchFilter),
// ordering by name or create_time (optionally "desc"), and offset page tokens.
func list[T proto.Message](m map[string]T, parent string, req listRequest) ([]T, string, error) {
	var all []T
	for name, r := range m {
		if !underParent(name, parent) {
			continue
		}
		ok, err := matchFilter(r, req.GetFilter())
		if err != nil {
			return nil, "", err
		}
		if ok {
			all = append(all, r)
		}
	}
	if err := order(all, req.GetOrderBy()); err != nil {
		return nil, "", err
	}

	start := 0
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(all) {
			return nil, "", status.Errorf(codes.InvalidArgument, "Invalid page_token %q.", tok)
		}
		start = n
	}
	end := len(all)
	if size := int(req.GetPageSize()); size > 0 && start+size < end {
		end = start + size
	}
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	page := make([]T, 0, end-start)
	for _, r := range all[start:end] {
		page = append(page, proto.Clone(r).(T))
	}
	return page, next, nil
}

// underParent reports whether name is a direct child of parent ("<parent>/<collection>/<id>"),
// where a "-" segment in parent matches any ID.
func underParent(name, parent string) bool {
	n, p := strings.Split(name, "/"), strings.Split(parent, "/")
	if len(n) != len(p)+2 {
		return false
	}
	for i := range p {
		if p[i] != n[i] && p[i] != "-" {
			return false
		}
	}
	return true
}

// order sorts by name (the default), or by create_time; "desc" reverses.
func order[T proto.Message](rs []T, orderBy string) error {
	f := strings.Fields(orderBy)
	desc := len(f) == 2 && strings.EqualFold(f[1], "desc")
	field := "name"
	if len(f) > 0 {
		field = f[0]
	}
	if len(f) > 2 || (len(f) == 2 && !desc && !strings.EqualFold(f[1], "asc")) || (field != "name" && field != "create_time" && field != "createTime") {
		return status.Errorf(codes.InvalidArgument, "Unsupported order_by %q (the simulator orders by name or create_time, optionally desc).", orderBy)
	}
	key := func(r T) string {
		rm := r.ProtoReflect()
		if field == "name" {
			return rm.Get(rm.Descriptor().Fields().ByName("name")).String()
		}
		ts, _ := rm.Get(rm.Descriptor().Fields().ByName("create_time")).Message().Interface().(*timestamppb.Timestamp)
		return ts.AsTime().Format("2006-01-02T15:04:05.000000000Z07:00") + rm.Get(rm.Descriptor().Fields().ByName("name")).String()
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if desc {
			return key(rs[i]) > key(rs[j])
		}
		return key(rs[i]) < key(rs[j])
	})
	return nil
}

// matchFilter evaluates the subset of AIP-160 filters callers use: terms "field = value",
// "field != value" or "field:value", joined by AND. field is a (nested) field path in proto or JSON
// spelling, "labels.KEY" included; enums compare by name; values may be quoted.
func matchFilter(m proto.Message, filter string) (bool, error) {
	if strings.TrimSpace(filter) == "" {
		return true, nil
	}
	for _, term := range strings.Split(filter, " AND ") {
		path, op, want, err := parseTerm(term)
		if err != nil {
			return false, err
		}
		got, err := fieldString(m.ProtoReflect(), path)
		if err != nil {
			return false, err
		}
		if (got == want) != (op != "!=") {
			return false, nil
		}
	}
	return true, nil
}

func parseTerm(term string) (path, op, value string, err error) {
	for _, op := range []string{"!=", "=", ":"} {
		if i := strings.Index(term, op); i > 0 {
			return strings.TrimSpace(term[:i]), op, strings.Trim(strings.TrimSpace(term[i+len(op):]), `"'`), nil
		}
	}
	return "", "", "", status.Errorf(codes.InvalidArgument, "Unsupported filter term %q (use field = value, field != value or field:value, joined by AND).", term)
}

// fieldString reads a field path as a string for comparison.
func fieldString(m protoreflect.Message, path string) (string, error) {
	parts := strings.Split(path, ".")
	for i, name := range parts {
		fd := field(m.Descriptor(), name)
		if fd == nil {
			return "", status.Errorf(codes.InvalidArgument, "Invalid filter: %q has no field %q.", m.Descriptor().Name(), name)
		}
		v := m.Get(fd)
		switch {
		case fd.IsMap() && i == len(parts)-2:
			return v.Map().Get(protoreflect.ValueOfString(parts[i+1]).MapKey()).String(), nil
		case fd.IsMap() || fd.IsList():
			return "", status.Errorf(codes.InvalidArgument, "Invalid filter: field %q cannot be compared.", path)
		case i == len(parts)-1:
			if fd.Enum() != nil {
				if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
					return string(ev.Name()), nil
				}
			}
			if fd.Message() != nil {
				return "", status.Errorf(codes.InvalidArgument, "Invalid filter: field %q is a message.", path)
			}
			return fmt.Sprint(v.Interface()), nil
		case fd.Message() == nil:
			return "", status.Errorf(codes.InvalidArgument, "Invalid filter: field %q has no subfields.", strings.Join(parts[:i+1], "."))
		}
		m = v.Message()
	}
	return "", nil
}

// field finds a field by proto name or JSON name.
func field(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	if fd := md.Fields().ByName(protoreflect.Name(name)); fd != nil {
		return fd
	}
	return md.Fields().ByJSONName(name)
}

// applyMask copies the fields named by paths (proto or JSON spelling, nested with ".") from src to
// dst. Paths outside updatable (by their first segment) are ignored, as the API documents for
// OUTPUT_ONLY and IMMUTABLE fields; unknown fields are INVALID_ARGUMENT.
func applyMask(dst, src proto.Message, paths []string, updatable map[string]bool) error {
	for _, path := range paths {
		parts := strings.Split(path, ".")
		d, s := dst.ProtoReflect(), src.ProtoReflect()
		for i, name := range parts {
			fd := field(d.Descriptor(), name)
			if fd == nil {
				return status.Errorf(codes.InvalidArgument, "Invalid update_mask path %q: %s has no field %q.", path, d.Descriptor().Name(), name)
			}
			if i == 0 && !updatable[string(fd.Name())] {
				break
			}
			if i == len(parts)-1 {
				if s.Has(fd) {
					d.Set(fd, s.Get(fd))
				} else {
					d.Clear(fd)
				}
				break
			}
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return status.Errorf(codes.InvalidArgument, "Invalid update_mask path %q: %q has no subfields.", path, name)
			}
			d, s = d.Mutable(fd).Message(), s.Get(fd).Message()
		}
	}
	return nil
}
