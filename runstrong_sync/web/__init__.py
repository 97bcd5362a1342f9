"""The status page: a fortnight at a glance under each athlete's secret feed path."""
