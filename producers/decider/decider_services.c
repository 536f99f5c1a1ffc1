/* The table of services the decider knows. Adding a service = one row. */
#include <string.h>

#include "decider_service.h"

extern const decider_service identity_decider_service;
extern const decider_service presence_decider_service;
extern const decider_service tasks_decider_service;
extern const decider_service billing_decider_service;

static const decider_service *const services[] = {
    &identity_decider_service, &presence_decider_service, &tasks_decider_service,
    &billing_decider_service};

const decider_service *decider_service_find(const char *service) {
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (strcmp(services[i]->service, service) == 0) return services[i];
    return NULL;
}
