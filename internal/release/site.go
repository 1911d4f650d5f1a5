package release

// Site is one deployment target of a release: a directory on a host and the services
// supervisord runs there. Deployments describe their sites in a JSON file (internal/config
// loads it); these are the fields of one entry.
type Site struct {
	Name string `json:"name"`
	// Dir is the site's base directory ({transfer} on NSC, {production} on TSD).
	Dir string `json:"dir"`
	// Components are repository path prefixes; a release deploys here only if one changed.
	Components []string `json:"components"`
	// Services are stopped before and started after the extraction, in this order.
	Services []Service `json:"services"`
}

// Service is one supervisord program, on the supervisord of the host that runs it.
type Service struct {
	Name string `json:"name"`
	Host string `json:"host,omitempty"`
	// SupervisorURL is the XML-RPC endpoint, e.g. http://127.0.0.1:9001/RPC2.
	SupervisorURL      string `json:"supervisorUrl,omitempty"`
	SupervisorUser     string `json:"supervisorUser,omitempty"`
	SupervisorPassword string `json:"supervisorPassword,omitempty"`
}

// Service returns the site's service called name.
func (s Site) Service(name string) (Service, bool) {
	for _, svc := range s.Services {
		if svc.Name == name {
			return svc, true
		}
	}
	return Service{}, false
}

// ServiceNames lists the site's services in their stop and start order.
func (s Site) ServiceNames() []string {
	var names []string
	for _, svc := range s.Services {
		names = append(names, svc.Name)
	}
	return names
}

// Layout is where the site keeps pkg on disk.
func (s Site) Layout(pkg string) Layout { return Layout{Dir: s.Dir, Package: pkg} }
