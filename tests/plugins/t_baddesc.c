/* t_baddesc.c - test fixture: a renderer descriptor without its function table. */
#include "plugin.h"
static const plugin_desc_t desc = {.abi = INVCLIP_PLUGIN_ABI, .kind = PLUGIN_RENDERER, .name = "t_baddesc"};
const plugin_desc_t *invclip_plugin(unsigned i);
const plugin_desc_t *invclip_plugin(unsigned i) { return i == 0 ? &desc : 0; }
