#!/usr/bin/env python3
"""Turn src/protocol/messages.def into C: structs and field tables.

Usage: gen_protocol.py messages.def OUTDIR

Writes OUTDIR/messages.h (one C struct per message and nested structure, the
API key enum) and OUTDIR/messages.c (the field tables the generic codec in
src/protocol/codec.c walks, and the API table), and OUTDIR/api_table.h and
OUTDIR/api_table.c (the dispatch facts of every API from its "serve" line:
the versions kfkd serves, the flags, the ACL checks, and the X-macro list
the broker binds its handlers with).  The output is deterministic so that a
test can regenerate it and compare with the committed copy.
"""
import os
import re
import sys

PRIMS = {
    'bool': ('bool', 'KFK_FT_BOOL'),
    'int8': ('int8_t', 'KFK_FT_INT8'),
    'int16': ('int16_t', 'KFK_FT_INT16'),
    'uint16': ('uint16_t', 'KFK_FT_UINT16'),
    'int32': ('int32_t', 'KFK_FT_INT32'),
    'int64': ('int64_t', 'KFK_FT_INT64'),
    'float64': ('double', 'KFK_FT_FLOAT64'),
    'uuid': ('kfk_uuid', 'KFK_FT_UUID'),
    'string': ('kfk_str', 'KFK_FT_STRING'),
    'bytes': ('kfk_bytes', 'KFK_FT_BYTES'),
    'records': ('kfk_bytes', 'KFK_FT_RECORDS'),
}
VMAX = 0x7FFF

# "serve" line flags: def word -> (C name, meaning).
SERVE_FLAGS = [
    ('preauth', 'PREAUTH', 'usable before authentication'),
    ('anyversion', 'ANYVERSION',
     'answered at every version (KIP-511)'),
    ('leader', 'LEADER', 'needs the partition leader'),
    ('controller', 'CONTROLLER',
     'needs (is forwarded to) the controller'),
    ('group', 'GROUP', 'needs the group coordinator'),
    ('txn', 'TXN', 'needs the transaction coordinator'),
]
# ACL vocabulary, with Kafka's wire codes (ResourceType, AclOperation).
ACL_RESOURCES = [('TOPIC', 2), ('GROUP', 3), ('CLUSTER', 4),
                 ('TRANSACTIONAL_ID', 5), ('DELEGATION_TOKEN', 6),
                 ('USER', 7)]
ACL_OPS = [('READ', 3), ('WRITE', 4), ('CREATE', 5), ('DELETE', 6),
           ('ALTER', 7), ('DESCRIBE', 8), ('CLUSTER_ACTION', 9),
           ('DESCRIBE_CONFIGS', 10), ('ALTER_CONFIGS', 11),
           ('IDEMPOTENT_WRITE', 12), ('CREATE_TOKENS', 13),
           ('DESCRIBE_TOKENS', 14)]
ACL_MAX = 3


class DefError(Exception):
    pass


def parse_versions(s, where):
    if s == 'none':
        return (-1, -2)
    m = re.fullmatch(r'(\d+)\+', s)
    if m:
        return (int(m.group(1)), VMAX)
    m = re.fullmatch(r'(\d+)-(\d+)', s)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r'(\d+)', s)
    if m:
        return (int(m.group(1)), int(m.group(1)))
    raise DefError('%s: bad versions %r' % (where, s))


class Field:
    def __init__(self, name, typ, versions, where):
        self.name = name
        self.typ = typ
        self.versions = versions
        self.nullable = (-1, -2)
        self.tag = None
        self.tagged = (-1, -2)
        self.default = None
        self.children = []
        self.where = where

    @property
    def is_array(self):
        return self.typ.startswith('[]')

    @property
    def base(self):
        return self.typ[2:] if self.is_array else self.typ


class Struct:
    def __init__(self, name, versions):
        self.name = name
        self.versions = versions
        self.fields = []


class Message:
    def __init__(self, name, key, versions, flex, kind):
        self.name = name
        self.key = key
        self.versions = versions
        self.flex = flex
        self.kind = kind  # 'request', 'response' or 'data'
        self.body = Struct(name, versions)
        self.common = {}


class Api:
    def __init__(self, key, name, versions, flex):
        self.key = key
        self.name = name
        self.versions = versions
        self.flex = flex
        self.request = None
        self.response = None
        self.serve = None  # versions kfkd serves, (-1, -2) for none
        self.flags = []
        self.acls = []  # [(resource, operation)]


def parse_serve(api, words, where):
    """serve VERSIONS [FLAG...] [acl=RES:OP,...]"""
    if api.serve is not None:
        raise DefError('%s: second serve line for %s' % (where, api.name))
    if len(words) < 2:
        raise DefError('%s: serve VERSIONS [FLAGS] [acl=RES:OP,...]' % where)
    api.serve = parse_versions(words[1], where)
    if api.serve != (-1, -2) and (api.serve[0] < api.versions[0] or
                                  api.serve[1] > api.versions[1]):
        raise DefError('%s: %s serves versions it does not describe' %
                       (where, api.name))
    flag_words = [f[0] for f in SERVE_FLAGS]
    resources = dict(ACL_RESOURCES)
    ops = dict(ACL_OPS)
    for w in words[2:]:
        if w.startswith('acl='):
            for pair in w[4:].split(','):
                res, _, op = pair.partition(':')
                if res not in resources or op not in ops:
                    raise DefError('%s: bad acl %r' % (where, pair))
                api.acls.append((res, op))
            if len(api.acls) > ACL_MAX:
                raise DefError('%s: more than %d acl checks' % (where,
                                                                ACL_MAX))
        elif w in flag_words:
            api.flags.append(w)
        else:
            raise DefError('%s: unknown serve flag %r' % (where, w))


def parse(path):
    apis = []
    datas = []
    cur_api = None
    cur_msg = None
    stack = []  # (indent, list-of-fields)
    with open(path) as f:
        lines = f.readlines()
    for lineno, raw in enumerate(lines, 1):
        where = '%s:%d' % (os.path.basename(path), lineno)
        line = raw.rstrip('\n')
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        indent = len(line) - len(line.lstrip(' '))
        if indent % 2:
            raise DefError('%s: odd indentation' % where)
        words = line.split()
        if indent == 0:
            if words[0] == 'api':
                if len(words) != 6 or words[4] != 'flex':
                    raise DefError('%s: api KEY NAME VERSIONS flex V' % where)
                cur_api = Api(int(words[1]), words[2],
                              parse_versions(words[3], where),
                              parse_versions(words[5], where))
                apis.append(cur_api)
                cur_msg = None
            elif words[0] == 'serve':
                if cur_api is None:
                    raise DefError('%s: serve outside api' % where)
                parse_serve(cur_api, words, where)
            elif words[0] in ('request', 'response'):
                if cur_api is None:
                    raise DefError('%s: %s outside api' % (where, words[0]))
                name = cur_api.name + words[0].capitalize()
                cur_msg = Message(name, cur_api.key, cur_api.versions,
                                  cur_api.flex, words[0])
                setattr(cur_api, words[0], cur_msg)
                stack = [(2, cur_msg.body.fields)]
            elif words[0] == 'data':
                if len(words) != 5 or words[3] != 'flex':
                    raise DefError('%s: data NAME VERSIONS flex V' % where)
                cur_api = None
                cur_msg = Message(words[1], -1,
                                  parse_versions(words[2], where),
                                  parse_versions(words[4], where), 'data')
                datas.append(cur_msg)
                stack = [(2, cur_msg.body.fields)]
            else:
                raise DefError('%s: unknown directive %r' % (where, words[0]))
            continue
        if cur_msg is None:
            raise DefError('%s: field outside a message' % where)
        while stack and stack[-1][0] > indent:
            stack.pop()
        if not stack or stack[-1][0] != indent:
            raise DefError('%s: unexpected indentation' % where)
        if words[0] == 'struct':
            st = Struct(words[1], parse_versions(words[2], where))
            cur_msg.common[st.name] = st
            stack.append((indent + 2, st.fields))
            continue
        if len(words) < 3:
            raise DefError('%s: FIELD TYPE VERSIONS ...' % where)
        fld = Field(words[0], words[1], parse_versions(words[2], where),
                    where)
        for attr in words[3:]:
            if attr.startswith('null='):
                fld.nullable = parse_versions(attr[5:], where)
            elif attr.startswith('tag='):
                tag, _, tv = attr[4:].partition('@')
                fld.tag = int(tag)
                fld.tagged = parse_versions(tv, where)
            elif attr.startswith('='):
                fld.default = attr[1:]
            else:
                raise DefError('%s: unknown attribute %r' % (where, attr))
        stack[-1][1].append(fld)
        stack.append((indent + 2, fld.children))
    return apis, datas


def c_string(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


class Gen:
    def __init__(self):
        self.h = []
        self.c = []

    def struct_of(self, msg, fld):
        """Return the Struct a struct-typed field refers to."""
        if fld.children:
            st = Struct(fld.base, fld.versions)
            st.fields = fld.children
            return st
        if fld.base in msg.common:
            return msg.common[fld.base]
        raise DefError('%s: unknown type %r' % (fld.where, fld.typ))

    def ctype(self, msg, name):
        return 'kfk_%s_%s' % (msg.name, name)

    def emit_message(self, msg):
        done = {}
        self.emit_struct(msg, msg.body, 'kfk_%s' % msg.name, done)

    def emit_struct(self, msg, st, cname, done):
        if cname in done:
            return
        done[cname] = True
        # Nested types first.
        for fld in st.fields:
            if fld.base not in PRIMS:
                sub = self.struct_of(msg, fld)
                self.emit_struct(msg, sub, self.ctype(msg, sub.name), done)
        # C struct.
        self.h.append('typedef struct %s {' % cname)
        if not st.fields:
            self.h.append('    char _unused; /* no fields */')
        for fld in st.fields:
            if fld.base in PRIMS:
                bt = PRIMS[fld.base][0]
            else:
                bt = self.ctype(msg, self.struct_of(msg, fld).name)
            if fld.is_array:
                self.h.append('    %s *%s;' % (bt, fld.name))
                self.h.append('    int32_t %s_count; /* -1: null */' %
                              fld.name)
            else:
                self.h.append('    %s %s;' % (bt, fld.name))
        self.h.append('} %s;' % cname)
        self.h.append('')
        # Field table.
        fields = st.fields
        rows = []
        for fld in fields:
            rows.append(self.field_row(msg, cname, fld))
        self.c.append('static const kfk_field_desc %s_fields[] = {' % cname)
        if rows:
            self.c.extend(rows)
        else:
            self.c.append('    {0}')
        self.c.append('};')
        self.c.append('const kfk_struct_desc %s_desc = {' % cname)
        self.c.append('    %s, sizeof(%s), %d, %s_fields,' %
                      (c_string(st.name), cname, len(fields), cname))
        self.c.append('};')
        self.c.append('')
        self.h.append('extern const kfk_struct_desc %s_desc;' % cname)
        self.h.append('')

    def field_row(self, msg, cname, fld):
        base = fld.base
        if base in PRIMS:
            ft = PRIMS[base][1]
            sd = 'NULL'
        else:
            ft = 'KFK_FT_STRUCT'
            sd = '&%s_desc' % self.ctype(msg, self.struct_of(msg, fld).name)
        kind = 'KFK_FT_ARRAY' if fld.is_array else ft
        elem = ft if fld.is_array else '0'
        off_n = ('offsetof(%s, %s_count)' % (cname, fld.name)
                 if fld.is_array else '0')
        def_i, def_s, def_null = '0', 'NULL', '0'
        d = fld.default
        if d is not None:
            if d == 'null':
                def_null = '1'
            elif d.lower() in ('true', 'false'):
                def_i = '1' if d.lower() == 'true' else '0'
            elif re.fullmatch(r'-?(0x[0-9a-fA-F]+|\d+)', d):
                def_i = '(int64_t)%s' % d
                if d.lower().startswith('0x'):
                    def_i = '(int64_t)%sLL' % d
                else:
                    def_i = '(int64_t)%sLL' % d
            elif base == 'string':
                def_s = c_string(d.strip('"'))
            else:
                raise DefError('%s: bad default %r' % (fld.where, d))
        tag = fld.tag if fld.tag is not None else -1
        return ('    {%s, %s, %s, %d, %d, %d, %d, %d, %d, %d, '
                'offsetof(%s, %s), %s, %s, %s, %s, %s},' %
                (c_string(fld.name), kind, elem,
                 fld.versions[0], fld.versions[1],
                 fld.nullable[0], fld.nullable[1],
                 fld.tagged[0], fld.tagged[1], tag,
                 cname, fld.name, off_n, sd, def_i, def_s, def_null))


HEADER_H = '''/*
 * messages.h -- GENERATED by scripts/gen_protocol.py from
 * src/protocol/messages.def.  Do not edit: change the description and run
 * `make gen`.
 *
 * One C struct per Kafka message body and per nested structure, named
 * kfk_<Message> and kfk_<Message>_<Struct> after the Kafka specs, and the
 * field tables that drive the generic codec.
 */
#ifndef KFK_PROTOCOL_GEN_MESSAGES_H
#define KFK_PROTOCOL_GEN_MESSAGES_H

#include "protocol/codec.h"

'''


API_TABLE_H = '''/*
 * api_table.h -- GENERATED by scripts/gen_protocol.py from the "serve" lines
 * of src/protocol/messages.def.  Do not edit: change the description and
 * run `make gen`.
 *
 * The dispatch facts of every API: the versions kfkd serves, what the
 * request needs (authentication, the partition leader, the controller, a
 * coordinator) and the ACL checks Kafka's authorizer makes for it.  This is
 * data only: the broker binds its handlers to the names in KFK_API_SERVED
 * (src/broker/dispatch.c), so the protocol layer names no broker code.
 */
#ifndef KFK_PROTOCOL_GEN_API_TABLE_H
#define KFK_PROTOCOL_GEN_API_TABLE_H

#include <stdint.h>

#include "protocol/gen/messages.h"

'''


def emit_api_table(apis):
    h, c = [], []
    h.append('/* Flags of kfk_api_spec.flags. */')
    for i, (_, cn, doc) in enumerate(SERVE_FLAGS):
        h.append('#define KFK_API_F_%s 0x%02xu /* %s */' % (cn, 1 << i, doc))
    h.append('')
    h.append('/* ACL resource types and operations (Kafka\'s wire codes). */')
    h.append('typedef enum kfk_acl_resource {')
    h.append('    KFK_ACL_RES_NONE = 0,')
    for n, v in ACL_RESOURCES:
        h.append('    KFK_ACL_RES_%s = %d,' % (n, v))
    h.append('} kfk_acl_resource;')
    h.append('')
    h.append('typedef enum kfk_acl_op {')
    h.append('    KFK_ACL_OP_NONE = 0,')
    for n, v in ACL_OPS:
        h.append('    KFK_ACL_OP_%s = %d,' % (n, v))
    h.append('} kfk_acl_op;')
    h.append('')
    h.append('/* One check: operation op on a resource of type resource. */')
    h.append('typedef struct kfk_acl_check {')
    h.append('    uint8_t resource; /* kfk_acl_resource */')
    h.append('    uint8_t op;       /* kfk_acl_op */')
    h.append('} kfk_acl_check;')
    h.append('')
    h.append('#define KFK_API_ACL_MAX %d' % ACL_MAX)
    h.append('')
    h.append('typedef struct kfk_api_spec {')
    h.append('    const char *name;        /* NULL: key not described */')
    h.append('    int16_t serve_lo, serve_hi; /* -1, -2: not served */')
    h.append('    uint32_t flags;          /* KFK_API_F_* */')
    h.append('    int nacl;                /* checks in acl[] */')
    h.append('    kfk_acl_check acl[KFK_API_ACL_MAX]; /* main check first */')
    h.append('} kfk_api_spec;')
    h.append('')
    h.append('extern const kfk_api_spec kfk_api_specs[KFK_API_KEY_MAX + 1];')
    h.append('')
    h.append('/* The spec of api_key, or NULL if the key is not described. */')
    h.append('const kfk_api_spec *kfk_api_spec_get(int16_t api_key);')
    h.append('')
    h.append('/* The APIs kfkd serves, in key order, as X(Name) each; the broker')
    h.append(' * provides kfk_handle_<Name> for every one (src/broker/dispatch.c). */')
    served = [a for a in sorted(apis, key=lambda a: a.key)
              if a.serve != (-1, -2)]
    h.append('#define KFK_API_SERVED(X) \\')
    for i, a in enumerate(served):
        h.append('    X(%s)%s' % (a.name, ' \\' if i + 1 < len(served) else ''))
    h.append('')
    h.append('#define KFK_API_NSERVED %d' % len(served))
    h.append('')
    h.append('#endif')

    c.append('const kfk_api_spec kfk_api_specs[KFK_API_KEY_MAX + 1] = {')
    cnames = dict((w, cn) for w, cn, _ in SERVE_FLAGS)
    for a in sorted(apis, key=lambda a: a.key):
        flags = ' | '.join('KFK_API_F_%s' % cnames[f] for f in a.flags) or '0'
        acl = ', '.join('{KFK_ACL_RES_%s, KFK_ACL_OP_%s}' % x for x in a.acls)
        c.append('    [KFK_API_%s] = {%s, %d, %d, %s, %d, {%s}},' %
                 (a.name, c_string(a.name), a.serve[0], a.serve[1], flags,
                  len(a.acls), acl or '{0, 0}'))
    c.append('};')
    c.append('')
    c.append('const kfk_api_spec *')
    c.append('kfk_api_spec_get(int16_t api_key)')
    c.append('{')
    c.append('    if (api_key < 0 || api_key > KFK_API_KEY_MAX ||')
    c.append('        !kfk_api_specs[api_key].name)')
    c.append('        return NULL;')
    c.append('    return &kfk_api_specs[api_key];')
    c.append('}')
    ht = API_TABLE_H + '\n'.join(h) + '\n'
    ct = ('/*\n * api_table.c -- GENERATED by scripts/gen_protocol.py from\n'
          ' * src/protocol/messages.def.  Do not edit.\n *\n'
          ' * The dispatch facts of every API, indexed by API key.\n */\n'
          '#include <stddef.h>\n\n#include "protocol/gen/api_table.h"\n\n' +
          '\n'.join(c) + '\n')
    return ht, ct


def generate(defpath, outdir):
    apis, datas = parse(defpath)
    for a in apis:
        if a.serve is None:
            raise DefError('api %s lacks a serve line' % a.name)
    g = Gen()
    g.h.append('/* API keys. */')
    g.h.append('typedef enum kfk_api_key {')
    for a in sorted(apis, key=lambda a: a.key):
        g.h.append('    KFK_API_%s = %d,' % (a.name, a.key))
    g.h.append('} kfk_api_key;')
    g.h.append('')
    g.h.append('#define KFK_API_KEY_MAX %d' % max(a.key for a in apis))
    g.h.append('')
    for a in apis:
        if a.request is None or a.response is None:
            raise DefError('api %s lacks request or response' % a.name)
        g.emit_message(a.request)
        g.emit_message(a.response)
    for d in datas:
        g.emit_message(d)
    # Message descriptors and API table.
    for m in [x for a in apis for x in (a.request, a.response)] + datas:
        g.c.append('const kfk_msg_desc kfk_%s_msg = {%s, %d, %d, %d, %d, '
                   '&kfk_%s_desc};' %
                   (m.name, c_string(m.name), m.key, m.versions[0],
                    m.versions[1], m.flex[0], m.name))
        g.h.append('extern const kfk_msg_desc kfk_%s_msg;' % m.name)
    g.h.append('')
    g.c.append('')
    g.c.append('const kfk_api_desc kfk_api_table[KFK_API_KEY_MAX + 1] = {')
    for a in sorted(apis, key=lambda a: a.key):
        g.c.append('    [KFK_API_%s] = {%s, %d, %d, %d, %d, '
                   '&kfk_%s_msg, &kfk_%s_msg},' %
                   (a.name, c_string(a.name), a.key, a.versions[0],
                    a.versions[1], a.flex[0], a.request.name,
                    a.response.name))
    g.c.append('};')
    g.h.append('extern const kfk_api_desc kfk_api_table[KFK_API_KEY_MAX + 1];')
    g.h.append('')
    g.h.append('#endif')
    h = HEADER_H + '\n'.join(g.h) + '\n'
    c = ('/*\n * messages.c -- GENERATED by scripts/gen_protocol.py from\n'
         ' * src/protocol/messages.def.  Do not edit.\n *\n'
         ' * Field tables for every message and nested structure; the '
         'generic\n * codec in codec.c walks them.\n */\n'
         '#include <stddef.h>\n\n#include "protocol/gen/messages.h"\n\n' +
         '\n'.join(g.c) + '\n')
    ath, atc = emit_api_table(apis)
    os.makedirs(outdir, exist_ok=True)
    for name, text in (('messages.h', h), ('messages.c', c),
                       ('api_table.h', ath), ('api_table.c', atc)):
        p = os.path.join(outdir, name)
        old = None
        if os.path.exists(p):
            with open(p) as f:
                old = f.read()
        if old != text:
            with open(p, 'w') as f:
                f.write(text)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.stderr.write('usage: gen_protocol.py messages.def OUTDIR\n')
        sys.exit(2)
    try:
        generate(sys.argv[1], sys.argv[2])
    except DefError as e:
        sys.stderr.write('gen_protocol: %s\n' % e)
        sys.exit(1)
