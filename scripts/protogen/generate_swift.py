#!/usr/bin/env python3
"""Generates MeshlineModels' Swift value types and their protobuf-c bridging.

Input: a FileDescriptorSet written by `protoc --descriptor_set_out
--include_source_info --include_imports`. Output, per .proto file:

  <name>.pb.swift      public value types (structs, enums), no C in sight
  <name>.bridge.swift  conversion to and from the protobuf-c structs
  <name>.json.swift    conversion to and from JSON (ProtoJSONMessage/ProtoJSONEnum)

The contract uses a deliberately small part of proto3, and this generator
refuses anything else with an error naming the field: scalars, strings,
bytes, enums, messages and repeated fields of those. No oneofs, maps,
proto3 `optional`, groups or extensions.

A message field whose leading comment starts with "Required." becomes a
non-optional Swift property; decoding a message without it throws
`ProtoDecodingError.missingRequiredField`.
"""

import re
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

FD = descriptor_pb2.FieldDescriptorProto

# Swift names for types outside meshline.v1 where the plain name would be
# ambiguous or clash with the standard library.
TYPE_NAME_OVERRIDES = {
    "google.protobuf.Any": "ProtoAny",
    "google.rpc.Status": "RPCStatus",
}

SWIFT_KEYWORDS = {
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func",
    "import", "init", "inout", "internal", "let", "open", "operator", "private",
    "precedencegroup", "protocol", "public", "rethrows", "static", "struct",
    "subscript", "typealias", "var", "break", "case", "catch", "continue", "default",
    "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat",
    "return", "throw", "switch", "where", "while", "Any", "as", "await", "false",
    "is", "nil", "self", "Self", "super", "throws", "true", "try", "override",
    "Type", "Protocol",
}

# protoc-c appends "_" to field names that are C++ keywords.
CPP_KEYWORDS = {
    "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case",
    "catch", "char", "class", "compl", "const", "const_cast", "continue", "default",
    "delete", "do", "double", "dynamic_cast", "else", "enum", "explicit",
    "extern", "false", "float", "for", "friend", "goto", "if", "inline", "int", "long",
    "mutable", "namespace", "new", "not", "not_eq", "operator", "or", "or_eq",
    "private", "protected", "public", "register", "reinterpret_cast", "return",
    "short", "signed", "sizeof", "static", "static_cast", "struct", "switch",
    "template", "this", "throw", "true", "try", "typedef", "typeid", "typename",
    "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while",
    "xor", "xor_eq",
}

SCALARS = {
    FD.TYPE_DOUBLE: ("Double", "0"),
    FD.TYPE_FLOAT: ("Float", "0"),
    FD.TYPE_INT64: ("Int64", "0"),
    FD.TYPE_SINT64: ("Int64", "0"),
    FD.TYPE_SFIXED64: ("Int64", "0"),
    FD.TYPE_UINT64: ("UInt64", "0"),
    FD.TYPE_FIXED64: ("UInt64", "0"),
    FD.TYPE_INT32: ("Int32", "0"),
    FD.TYPE_SINT32: ("Int32", "0"),
    FD.TYPE_SFIXED32: ("Int32", "0"),
    FD.TYPE_UINT32: ("UInt32", "0"),
    FD.TYPE_FIXED32: ("UInt32", "0"),
    FD.TYPE_BOOL: ("Bool", "false"),
    FD.TYPE_STRING: ("String", '""'),
    FD.TYPE_BYTES: ("[UInt8]", "[]"),
}

ACRONYMS = {"id": "ID", "ids": "IDs", "url": "URL", "urls": "URLs", "sla": "SLA", "ttl": "TTL"}


class GenerationError(Exception):
    pass


# ---------------------------------------------------------------- naming


def camel_to_lower(name):
    """protoc-c's CamelToLower: `HealthCheckRequest` -> `health_check_request`."""
    out, was_upper = [], True
    for ch in name:
        is_upper = ch.isupper()
        if is_upper:
            if not was_upper:
                out.append("_")
            out.append(ch.lower())
        else:
            out.append(ch)
        was_upper = is_upper
    return "".join(out)


def c_struct_name(full_name):
    """`meshline.v1.Export` -> `Meshline__V1__Export` (protoc-c's FullNameToC)."""
    return "__".join(part[0].upper() + part[1:] for part in full_name.split("."))


def c_function_prefix(full_name):
    """`grpc.health.v1.HealthCheckRequest` -> `grpc__health__v1__health_check_request`."""
    return "__".join(camel_to_lower(part) for part in full_name.split("."))


def c_field_name(name):
    return name + "_" if name in CPP_KEYWORDS else name


def lower_camel(snake):
    parts = [p for p in snake.lower().split("_") if p]
    out = []
    for i, part in enumerate(parts):
        if i > 0 and part in ACRONYMS:
            out.append(ACRONYMS[part])
        elif i == 0:
            out.append(part)
        else:
            out.append(part[0].upper() + part[1:])
    name = "".join(out)
    if name[0].isdigit():
        name = "_" + name
    return name


def escaped(identifier):
    return f"`{identifier}`" if identifier in SWIFT_KEYWORDS else identifier


def upper_snake(camel):
    return camel_to_lower(camel).upper()


# ---------------------------------------------------------------- model


class Context:
    """Every message and enum of the descriptor set, by full name."""

    def __init__(self, fds):
        self.messages = {}
        self.enums = {}
        self.swift_names = {}
        for f in fds.file:
            for m in f.message_type:
                self._add_message(f.package, m, None)
            for e in f.enum_type:
                self._add_enum(f.package, e, None)
        seen = {}
        for full, swift in self.swift_names.items():
            if swift in seen:
                raise GenerationError(f"{full} and {seen[swift]} both map to Swift name {swift}; add one to TYPE_NAME_OVERRIDES")
            seen[swift] = full

    def _swift_name(self, full, parent_swift, simple):
        if full in TYPE_NAME_OVERRIDES:
            return TYPE_NAME_OVERRIDES[full]
        return f"{parent_swift}.{simple}" if parent_swift else simple

    def _add_message(self, scope, m, parent_swift):
        full = f"{scope}.{m.name}"
        self.messages[full] = m
        swift = self._swift_name(full, parent_swift, m.name)
        self.swift_names[full] = swift
        for nested in m.nested_type:
            if nested.options.map_entry:
                raise GenerationError(f"{full}: map fields are not supported; use a repeated message")
            self._add_message(full, nested, swift)
        for e in m.enum_type:
            self._add_enum(full, e, swift)

    def _add_enum(self, scope, e, parent_swift):
        full = f"{scope}.{e.name}"
        self.enums[full] = e
        self.swift_names[full] = self._swift_name(full, parent_swift, e.name)


def comments_by_path(file_proto):
    out = {}
    for loc in file_proto.source_code_info.location:
        text = loc.leading_comments.strip("\n")
        if text:
            out[tuple(loc.path)] = text
    return out


def doc_lines(comment, indent):
    if not comment:
        return []
    lines = [line[1:] if line.startswith(" ") else line for line in comment.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return [f"{indent}///" + (f" {line}" if line.strip() else "") for line in lines]


class Field:
    def __init__(self, ctx, message_full, f, comment):
        self.proto = f
        where = f"{message_full}.{f.name}"
        if f.HasField("oneof_index"):
            raise GenerationError(f"{where}: oneofs and proto3 `optional` are not supported")
        if f.label == FD.LABEL_REQUIRED:
            raise GenerationError(f"{where}: proto2 `required` is not supported")
        self.name = f.name
        self.swift = escaped(lower_camel(f.name))
        self.plain_swift = lower_camel(f.name)
        self.c = c_field_name(f.name)
        self.repeated = f.label == FD.LABEL_REPEATED
        self.comment = comment
        self.required = comment.lstrip().startswith("Required.")
        self.type = f.type
        if f.type in SCALARS:
            self.kind = "scalar"
            self.element, self.element_default = SCALARS[f.type]
        elif f.type == FD.TYPE_ENUM:
            self.kind = "enum"
            self.full_type = f.type_name.lstrip(".")
            self.element = ctx.swift_names[self.full_type]
            self.c_type = c_struct_name(self.full_type)
            zero = next(case for case, v in enum_cases(ctx.enums[self.full_type]) if v.number == 0)
            self.element_default = f".{zero}"
        elif f.type == FD.TYPE_MESSAGE:
            self.kind = "message"
            self.full_type = f.type_name.lstrip(".")
            self.element = ctx.swift_names[self.full_type]
            self.c_type = c_struct_name(self.full_type)
            self.c_prefix = c_function_prefix(self.full_type)
        else:
            raise GenerationError(f"{where}: field type {f.type} is not supported")
        if self.required and (self.kind != "message" or self.repeated):
            raise GenerationError(f"{where}: only singular message fields can be Required.")

    @property
    def swift_type(self):
        if self.repeated:
            return f"[{self.element}]"
        if self.kind == "message" and not self.required:
            return f"{self.element}?"
        return self.element

    @property
    def swift_default(self):
        if self.repeated:
            return "[]"
        if self.kind == "message":
            return f"{self.element}()" if self.required else "nil"
        return self.element_default


# ---------------------------------------------------------------- Swift value types


def enum_cases(e):
    """Swift case names: the value names without the enum's own prefix, in lowerCamelCase."""
    prefix = upper_snake(e.name) + "_"
    strip = all(v.name.startswith(prefix) and len(v.name) > len(prefix) for v in e.value)
    return [(escaped(lower_camel(v.name[len(prefix):] if strip else v.name)), v) for v in e.value]


def gen_enum(ctx, full, e, comment, value_comments, indent):
    swift = ctx.swift_names[full].split(".")[-1]
    if not any(v.number == 0 for v in e.value):
        raise GenerationError(f"{full}: proto3 enums need a zero value")
    if e.options.allow_alias:
        raise GenerationError(f"{full}: enum aliases are not supported")
    out = doc_lines(comment, indent)
    out.append(f"{indent}public enum {swift}: Int32, Sendable, Hashable, CaseIterable {{")
    cases = enum_cases(e)
    for i, (case, v) in enumerate(cases):
        out += doc_lines(value_comments.get(i, ""), indent + "    ")
        out.append(f"{indent}    case {case} = {v.number}")
    out.append("")
    out.append(f"{indent}    /// The value's name in the .proto file, e.g. `{e.value[-1].name}`.")
    out.append(f"{indent}    public var protoName: String {{")
    out.append(f"{indent}        switch self {{")
    for case, v in cases:
        out.append(f'{indent}        case .{case}: "{v.name}"')
    out.append(f"{indent}        }}")
    out.append(f"{indent}    }}")
    out.append("")
    out.append(f"{indent}    /// The value named `name` in the .proto file, or nil.")
    out.append(f"{indent}    public init?(protoName name: String) {{")
    out.append(f"{indent}        switch name {{")
    for case, v in cases:
        out.append(f'{indent}        case "{v.name}": self = .{case}')
    out.append(f"{indent}        default: return nil")
    out.append(f"{indent}        }}")
    out.append(f"{indent}    }}")
    out.append(f"{indent}}}")
    return out


def message_fields(ctx, full, m, comments, path):
    fields = []
    for i, f in enumerate(m.field):
        fields.append(Field(ctx, full, f, comments.get(tuple(path + [2, i]), "")))
    return fields


def gen_message(ctx, full, m, comments, path, indent, top_level):
    swift = ctx.swift_names[full].split(".")[-1]
    fields = message_fields(ctx, full, m, comments, path)
    out = doc_lines(comments.get(tuple(path), ""), indent)
    out.append(f"{indent}public struct {swift}: Sendable, Hashable {{")
    inner = indent + "    "
    for i, nested in enumerate(m.nested_type):
        out += gen_message(ctx, f"{full}.{nested.name}", nested, comments, path + [3, i], inner, False)
        out.append("")
    for i, e in enumerate(m.enum_type):
        value_comments = {j: comments.get(tuple(path + [4, i, 2, j]), "") for j in range(len(e.value))}
        out += gen_enum(ctx, f"{full}.{e.name}", e, comments.get(tuple(path + [4, i]), ""), value_comments, inner)
        out.append("")
    for f in fields:
        out += doc_lines(f.comment, inner)
        out.append(f"{inner}public var {f.swift}: {f.swift_type}")
    if fields:
        out.append("")
    out.append(f"{inner}/// Creates the message; every field not given has its proto3 default.")
    if fields:
        params = ",\n".join(f"{inner}    {f.swift}: {f.swift_type} = {f.swift_default}" for f in fields)
        out.append(f"{inner}public init(\n{params}\n{inner}) {{")
        for f in fields:
            out.append(f"{inner}    self.{f.plain_swift} = {f.swift}")
        out.append(f"{inner}}}")
    else:
        out.append(f"{inner}public init() {{}}")
    out.append(f"{indent}}}")
    return out


def gen_values_file(ctx, file_proto):
    comments = comments_by_path(file_proto)
    out = [
        f"// Generated by scripts/generate-proto from {file_proto.name}. DO NOT EDIT.",
        "",
    ]
    for i, e in enumerate(file_proto.enum_type):
        value_comments = {j: comments.get((5, i, 2, j), "") for j in range(len(e.value))}
        out += gen_enum(ctx, f"{file_proto.package}.{e.name}", e, comments.get((5, i), ""), value_comments, "")
        out.append("")
    for i, m in enumerate(file_proto.message_type):
        out += gen_message(ctx, f"{file_proto.package}.{m.name}", m, comments, [4, i], "", True)
        out.append("")
    for m in file_proto.message_type:
        if m.name.endswith("Request") and any(f.name == "tenant_id" and f.type == FD.TYPE_STRING for f in m.field):
            swift = ctx.swift_names[f"{file_proto.package}.{m.name}"]
            out.append(f"extension {swift}: TenantScopedRequest {{")
            out.append("    public var scopedTenantID: String { tenantID }")
            out.append("}")
            out.append("")
    for i, s in enumerate(file_proto.service):
        out += gen_service_descriptor(file_proto, s, comments, i)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def gen_service_descriptor(file_proto, service, comments, index):
    """A value describing a service's methods, for servers and clients to route by."""
    full = f"{file_proto.package}.{service.name}"
    out = doc_lines(comments.get((6, index), ""), "")
    out.append(f"public enum {service.name}Descriptor {{")
    out.append(f'    /// The service\'s full name, `{full}`.')
    out.append(f'    public static let fullName = "{full}"')
    names = []
    for j, method in enumerate(service.method):
        if method.client_streaming:
            raise GenerationError(f"{full}.{method.name}: client streaming is not supported")
        name = lower_camel(camel_to_lower(method.name))
        names.append(name)
        streaming = "true" if method.server_streaming else "false"
        out += doc_lines(comments.get((6, index, 2, j), ""), "    ")
        out.append(f"    public static let {name} = RPCMethod(")
        out.append(f'        path: "/{full}/{method.name}", name: "{method.name}",')
        out.append(f'        requestType: "{method.input_type.lstrip(".")}", responseType: "{method.output_type.lstrip(".")}",')
        out.append(f"        serverStreaming: {streaming}")
        out.append("    )")
    out.append("    /// Every method, in .proto order.")
    out.append(f"    public static let methods: [RPCMethod] = [{', '.join(names)}]")
    out.append("}")
    return out


# ---------------------------------------------------------------- bridging


def gen_bridge_message(ctx, full, m, comments, path, top_level):
    swift = ctx.swift_names[full]
    c_type = c_struct_name(full)
    prefix = c_function_prefix(full)
    fields = message_fields(ctx, full, m, comments, path)
    out = [f"extension {swift}: ProtobufCBridged {{"]
    out.append(f"    typealias CMessage = {c_type}")
    out.append(f'    static let protoName = "{full}"')
    out.append("")
    out.append(f"    static func cInitialize(_ message: UnsafeMutablePointer<{c_type}>) {{")
    out.append(f"        {prefix}__init(message)")
    out.append("    }")
    out.append("")
    # decode
    out.append(f"    init(cMessage c: UnsafePointer<{c_type}>) throws(ProtoDecodingError) {{")
    if not fields:
        out.append("        self.init()")
    for f in fields:
        cf = f"c.pointee.{f.c}"
        label = f'"{f.name}"'
        if f.repeated:
            count = f"c.pointee.n_{f.c}"
            if f.kind == "message":
                expr = f"try ProtoC.messages({cf}, count: {count}, field: {label}, in: Self.protoName, as: {f.element}.self)"
            elif f.kind == "enum":
                expr = f"try ProtoC.enums({cf}, count: {count}, field: {label}, in: Self.protoName, as: {f.element}.self)"
            elif f.type == FD.TYPE_STRING:
                expr = f"try ProtoC.strings({cf}, count: {count}, field: {label}, in: Self.protoName)"
            elif f.type == FD.TYPE_BYTES:
                expr = f"ProtoC.byteArrays({cf}, count: {count})"
            elif f.type == FD.TYPE_BOOL:
                expr = f"ProtoC.bools({cf}, count: {count})"
            else:
                expr = f"ProtoC.scalars({cf}, count: {count})"
        elif f.kind == "message":
            if f.required:
                expr = f"try ProtoC.requiredMessage({cf}, field: {label}, in: Self.protoName, as: {f.element}.self)"
            else:
                expr = f"try ProtoC.message({cf}, field: {label}, in: Self.protoName, as: {f.element}.self)"
        elif f.kind == "enum":
            expr = f"try ProtoC.enumValue({cf}.rawValue, field: {label}, in: Self.protoName, as: {f.element}.self)"
        elif f.type == FD.TYPE_STRING:
            expr = f"try ProtoC.string({cf}, field: {label}, in: Self.protoName)"
        elif f.type == FD.TYPE_BYTES:
            expr = f"ProtoC.bytes({cf})"
        elif f.type == FD.TYPE_BOOL:
            expr = f"{cf} != 0"
        else:
            expr = cf
        out.append(f"        self.{f.plain_swift} = {expr}")
    out.append("    }")
    out.append("")
    # encode
    arena_label = "arena" if fields else "arena _"
    out.append(f"    func fill(_ c: UnsafeMutablePointer<{c_type}>, {arena_label}: ProtoArena) {{")
    for f in fields:
        cf = f"c.pointee.{f.c}"
        value = f"self.{f.plain_swift}"
        if f.repeated:
            out.append(f"        if !{value}.isEmpty {{")
            out.append(f"            c.pointee.n_{f.c} = {value}.count")
            if f.kind == "message":
                out.append(f"            {cf} = arena.messages({value})")
            elif f.kind == "enum":
                out.append(f"            {cf} = arena.enums({value}, as: {f.c_type}.self)")
            elif f.type == FD.TYPE_STRING:
                out.append(f"            {cf} = arena.strings({value})")
            elif f.type == FD.TYPE_BYTES:
                out.append(f"            {cf} = arena.byteArrays({value})")
            elif f.type == FD.TYPE_BOOL:
                out.append(f"            {cf} = arena.bools({value})")
            else:
                out.append(f"            {cf} = arena.scalars({value})")
            out.append("        }")
        elif f.kind == "message":
            if f.required:
                out.append(f"        {cf} = arena.message({value})")
            else:
                out.append(f"        if let value = {value} {{ {cf} = arena.message(value) }}")
        elif f.kind == "enum":
            out.append(f"        {cf} = {f.c_type}(rawValue: ProtoC.cEnumRawValue({value}.rawValue))")
        elif f.type == FD.TYPE_STRING:
            out.append(f"        if !{value}.isEmpty {{ {cf} = arena.string({value}) }}")
        elif f.type == FD.TYPE_BYTES:
            out.append(f"        if !{value}.isEmpty {{ {cf} = arena.bytes({value}) }}")
        elif f.type == FD.TYPE_BOOL:
            out.append(f"        {cf} = {value} ? 1 : 0")
        else:
            out.append(f"        {cf} = {value}")
    out.append("    }")
    out.append("}")
    if top_level:
        out.append("")
        out.append(f"extension {swift}: ProtobufMessage, ProtobufCPackable {{")
        out.append("    public init(serializedBytes bytes: some Sequence<UInt8>) throws(ProtoDecodingError) {")
        out.append(f"        self = try ProtoC.decode(bytes, as: {swift}.self)")
        out.append("    }")
        out.append("")
        out.append("    public init(serializedBytes bytes: [UInt8]) throws(ProtoDecodingError) {")
        out.append(f"        self = try ProtoC.decode(bytes, as: {swift}.self)")
        out.append("    }")
        out.append("")
        out.append("    public func serializedBytes() -> [UInt8] {")
        out.append("        ProtoC.encode(self)")
        out.append("    }")
        out.append("")
        out.append(f"    static func cUnpack(_ allocator: UnsafePointer<ProtobufCAllocator>, _ count: Int, _ bytes: UnsafePointer<UInt8>) -> UnsafeMutablePointer<{c_type}>? {{")
        out.append(f"        {prefix}__unpack(UnsafeMutablePointer(mutating: allocator), count, bytes)")
        out.append("    }")
        out.append("")
        out.append(f"    static func cPackedSize(_ message: UnsafePointer<{c_type}>) -> Int {{")
        out.append(f"        {prefix}__get_packed_size(message)")
        out.append("    }")
        out.append("")
        out.append(f"    static func cPack(_ message: UnsafePointer<{c_type}>, _ out: UnsafeMutablePointer<UInt8>) -> Int {{")
        out.append(f"        {prefix}__pack(message, out)")
        out.append("    }")
        out.append("}")
    for i, nested in enumerate(m.nested_type):
        out.append("")
        out += gen_bridge_message(ctx, f"{full}.{nested.name}", nested, comments, path + [3, i], False)
    enums = [(f"{full}.{e.name}", e) for e in m.enum_type]
    for efull, e in enums:
        out.append("")
        out.append(f"extension {ctx.swift_names[efull]}: ProtobufCEnum {{}}")
    return out


def gen_bridge_file(ctx, file_proto):
    comments = comments_by_path(file_proto)
    out = [
        f"// Generated by scripts/generate-proto from {file_proto.name}. DO NOT EDIT.",
        "",
        "internal import CProtobufC",
        "internal import MeshlineProtoC",
        "",
    ]
    for e in file_proto.enum_type:
        out.append(f"extension {ctx.swift_names[f'{file_proto.package}.{e.name}']}: ProtobufCEnum {{}}")
        out.append("")
    for i, m in enumerate(file_proto.message_type):
        out += gen_bridge_message(ctx, f"{file_proto.package}.{m.name}", m, comments, [4, i], True)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------- JSON


def gen_json_message(ctx, full, m, comments, path):
    swift = ctx.swift_names[full]
    fields = message_fields(ctx, full, m, comments, path)
    out = [f"extension {swift}: ProtoJSONMessage {{"]
    names = ", ".join(f'("{f.name}", "{f.proto.json_name}")' for f in fields)
    out.append(f"    public init(protoJSON object: ProtoJSONReader) throws(ProtoJSONError) {{")
    if fields:
        out.append(f"        try object.checkFields([{names}])")
        out.append("        self.init(")
        args = []
        for f in fields:
            if f.type == FD.TYPE_BYTES and not f.repeated:
                value = f'try object.bytes("{f.name}", "{f.proto.json_name}") ?? []'
            elif f.type == FD.TYPE_BYTES:
                raise GenerationError(f"{full}.{f.name}: repeated bytes are not supported")
            elif f.required:
                value = f'try object.required("{f.name}", "{f.proto.json_name}")'
            elif f.kind == "message" and not f.repeated:
                value = f'try object.value("{f.name}", "{f.proto.json_name}")'
            else:
                value = f'try object.value("{f.name}", "{f.proto.json_name}") ?? {f.swift_default}'
            args.append(f"            {f.plain_swift}: {value}")
        out.append(",\n".join(args))
        out.append("        )")
    else:
        out.append("        try object.checkFields([])")
        out.append("        self.init()")
    out.append("    }")
    out.append("")
    out.append("    public func protoJSON(into object: inout ProtoJSONWriter) {")
    for f in fields:
        if f.type == FD.TYPE_BYTES:
            out.append(f'        object.writeBytes("{f.name}", {f.swift})')
        else:
            out.append(f'        object.write("{f.name}", {f.swift})')
    out.append("    }")
    out.append("}")
    out.append("")
    for i, nested in enumerate(m.nested_type):
        out += gen_json_message(ctx, f"{full}.{nested.name}", nested, comments, path + [3, i])
    for e in m.enum_type:
        out.append(f"extension {ctx.swift_names[f'{full}.{e.name}']}: ProtoJSONEnum {{}}")
        out.append("")
    return out


def gen_json_file(ctx, file_proto):
    comments = comments_by_path(file_proto)
    out = [
        f"// Generated by scripts/generate-proto from {file_proto.name}. DO NOT EDIT.",
        "",
    ]
    for e in file_proto.enum_type:
        out.append(f"extension {ctx.swift_names[f'{file_proto.package}.{e.name}']}: ProtoJSONEnum {{}}")
        out.append("")
    for i, m in enumerate(file_proto.message_type):
        out += gen_json_message(ctx, f"{file_proto.package}.{m.name}", m, comments, [4, i])
    return "\n".join(out).rstrip("\n") + "\n"


def swift_file_stem(proto_name):
    return proto_name[: -len(".proto")].replace("/", "_")


def main(argv):
    if len(argv) != 3:
        print("usage: generate_swift.py DESCRIPTOR_SET OUTPUT_DIR", file=sys.stderr)
        return 2
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(Path(argv[1]).read_bytes())
    out_dir = Path(argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        ctx = Context(fds)
        for file_proto in fds.file:
            if file_proto.syntax != "proto3":
                raise GenerationError(f"{file_proto.name}: only proto3 files are supported")
            stem = swift_file_stem(file_proto.name)
            (out_dir / f"{stem}.pb.swift").write_text(gen_values_file(ctx, file_proto))
            if file_proto.message_type or file_proto.enum_type:
                (out_dir / f"{stem}.bridge.swift").write_text(gen_bridge_file(ctx, file_proto))
                (out_dir / f"{stem}.json.swift").write_text(gen_json_file(ctx, file_proto))
    except GenerationError as error:
        print(f"generate_swift.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
