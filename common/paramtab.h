/* paramtab.h - the project's one parameter-table dialect and its parser.
 *
 * A parameter is described by one row type, plugin_param_t (plugin.h: name,
 * type FLOAT | INT | BOOL | STRING | ENUM, default, inclusive range, enum
 * choices "a|b|c", help).  Plugin parameters are tables of it; tool options
 * (cli.h) and degradation parameters (degrade.h) build the same row for each
 * value they parse, so every number, range, boolean and choice on the
 * command line is checked by the same code with the same messages:
 *     <who>'abc' is not an integer         <who>99999999999 is out of range [0, 1e+08]
 *     <who>'x' is not a number             <who>'maybe' is not a boolean (true/false)
 *     <who>'d' is not one of a|b|c
 * where <who> is the caller's prefix ("--size: ", "plugin 'bezier': fit=").
 * "key=value,key=value" lists are parsed against a table with the same rule
 * everywhere: unknown keys and repeated keys are refused (no "last wins").
 * All errors are EXIT_USAGE.
 */
#ifndef PARAMTAB_H
#define PARAMTAB_H
#include "plugin.h"
#include "util.h"

/* Index of v in choices "a|b|c", or -1. */
int paramtab_enum_index(const char *choices, const char *v);

/* Parse text as a value of q.  STRING values point into text (the caller
 * copies if it must keep them).  Returns 0 or EXIT_USAGE. */
int paramtab_value(const plugin_param_t *q, const char *text, plugin_value_t *out, const char *who, err_t *e);

/* The default of q as a value (STRING: q->sdef). */
plugin_value_t paramtab_default(const plugin_param_t *q);

/* Defaults for all n rows of t, then "key=value,..." (args may be "").  A
 * STRING value is stored malloc'd in strs[k] (freed and replaced when set
 * again; vals[k].s points at it).  who prefixes messages ("plugin 'x': ").
 * Returns 0 or EXIT_USAGE. */
int paramtab_list(const plugin_param_t *t, int n, const char *args, plugin_value_t *vals, char **strs,
                  const char *who, err_t *e);
#endif
