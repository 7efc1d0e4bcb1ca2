"""The benchmark room: the performance workloads both twins' benchmark suites time."""
