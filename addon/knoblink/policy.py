"""What the wire may write (docs/security.md, "What the wire may write"):
the deny rules as plain data, decided from RNA facts that apply.py reads off
the resolved structs (identifiers up the base-type chain, a property's
type and subtype). No bpy here, no strings matched on the path text.

set/add/toggle/keyframe reach numbers, bools and enums only. A write is
refused when any struct on the way to the target (the root data-block
included), any property stepped through, or the target property itself is
covered by a rule below. Reads (watch) are never refused. A path that fans
out over a selection (context.selected_objects[*]...) is checked per element,
each exactly like a single target (apply.targets): one refused element refuses
the whole command.
"""

# rule name -> why; the message of a refused write is "<why>: not writable over the wire (...)".
RULES = {
    "strings": "strings can carry code, names and file paths",
    "file_paths": "file paths name files Blender reads or writes",
    "text": "text blocks are Python scripts (run as modules, by the text editor, by Freestyle)",
    "drivers": "drivers run Python expressions",
    "keymaps": "key maps bind keys to any operator",
    "libraries": "libraries load other .blend files",
    "script_nodes": "script, IES and file output nodes run OSL code or read and write files",
    "preferences": "preferences control add-ons, auto-run of scripts and file paths",
    "operators": "stored operator properties re-run operators (redo, presets)",
    "freestyle_scripts": "Freestyle's scripting mode runs Python style modules at render",
    "custom_camera": "custom cameras run OSL shaders from text blocks or files",
    "disk_caches": "external and disk caches read and write files",
    "script_editors": "the text editor's live edit and the Python console run Python",
    "python_export": "the fluid domain's Mantaflow script export writes Python files",
}

# Property subtypes that hold file names (RNA's PROP_FILEPATH, PROP_DIRPATH, PROP_FILENAME, PROP_BYTESTRING).
FILE_SUBTYPES = frozenset(("FILE_PATH", "DIR_PATH", "FILE_NAME", "BYTE_STRING"))

# Kinds a write may reach (apply.py's kind: RNA type, ENUM_FLAG/MATRIX split out; a custom property's type).
WRITABLE_KINDS = frozenset(("FLOAT", "INT", "BOOLEAN", "ENUM"))

# Struct identifier (the struct or any of its RNA base types) -> rule. Covers the struct
# and everything reached through it.
STRUCTS = {
    "Text": "text", "TextLine": "text",
    "Driver": "drivers", "DriverVariable": "drivers", "DriverTarget": "drivers",
    "ChannelDriverVariables": "drivers",
    "KeyConfigurations": "keymaps", "KeyConfig": "keymaps", "KeyMaps": "keymaps", "KeyMap": "keymaps",
    "KeyMapItems": "keymaps", "KeyMapItem": "keymaps", "KeyConfigPreferences": "keymaps",
    "Library": "libraries", "LibraryWeakReference": "libraries",
    "ShaderNodeScript": "script_nodes", "ShaderNodeTexIES": "script_nodes",
    "CompositorNodeOutputFile": "script_nodes",
    "Preferences": "preferences", "Addon": "preferences", "Addons": "preferences",
    "AddonPreferences": "preferences", "PathCompare": "preferences",
    "PathCompareCollection": "preferences", "StudioLight": "preferences", "StudioLights": "preferences",
    "UserAssetLibrary": "preferences", "UserExtensionRepo": "preferences",
    "UserExtensionRepoCollection": "preferences", "ScriptDirectory": "preferences",
    "ScriptDirectoryCollection": "preferences", "Theme": "preferences",
    "Operator": "operators", "OperatorProperties": "operators", "Macro": "operators",
    "FreestyleModuleSettings": "freestyle_scripts", "FreestyleModules": "freestyle_scripts",
    "SpaceTextEditor": "script_editors", "SpaceConsole": "script_editors", "ConsoleLine": "script_editors",
}
# Every struct whose identifier starts with this is a part of the preferences
# (PreferencesFilePaths, PreferencesSystem, PreferencesView, ...).
STRUCT_PREFIXES = {"Preferences": "preferences"}

# (struct identifier or a base's, property) -> rule, for a property stepped through or written.
PROPERTIES = {
    ("BlendData", "texts"): "text",
    ("BlendData", "libraries"): "libraries",
    ("BlendData", "filepath"): "file_paths",
    ("AnimData", "drivers"): "drivers",
    ("FCurve", "driver"): "drivers",
    ("WindowManager", "keyconfigs"): "keymaps",
    ("WindowManager", "operators"): "operators",
    ("Context", "preferences"): "preferences",
    ("ID", "library"): "libraries",
    ("ID", "library_weak_reference"): "libraries",
    ("FreestyleSettings", "mode"): "freestyle_scripts",
    ("FreestyleSettings", "modules"): "freestyle_scripts",
    ("Camera", "custom_mode"): "custom_camera",
    ("Camera", "custom_shader"): "custom_camera",
    ("Camera", "custom_filepath"): "custom_camera",
    ("Camera", "custom_bytecode"): "custom_camera",
    ("PointCache", "use_external"): "disk_caches",
    ("PointCache", "use_disk_cache"): "disk_caches",
    ("PointCache", "use_library_path"): "disk_caches",
    ("FluidDomainSettings", "export_manta_script"): "python_export",
}

# Operator id prefix -> rule: never callable, whatever the allow-list says (they
# run or edit scripts, add-ons, preferences or key maps).
OPERATORS = {
    "script.": "text", "text.": "text", "console.": "script_editors",
    "preferences.": "preferences", "extensions.": "preferences", "wm.addon_": "preferences",
    "wm.app_template_": "preferences", "wm.keyconfig_": "keymaps", "wm.keymap_": "keymaps",
    "wm.keyitem_": "keymaps",
}


class Refusal:
    """Why a write (call, argument) is refused: the rule's name, where it
    applied, and the message for not_allowed."""

    __slots__ = ("rule", "where", "verb")

    def __init__(self, rule, where, verb="writable"):
        self.rule, self.where, self.verb = rule, where, verb

    def message(self, path_text):
        return f"{RULES[self.rule]}: not {self.verb} over the wire ({self.where}; in {path_text})"

    def __repr__(self):
        return f"Refusal({self.rule!r}, {self.where!r})"


def struct_refusal(lineage, holds_script_or_file=False):
    """A Refusal for a struct, or None. lineage: its RNA identifier and its
    bases' (ShaderNodeScript, ShaderNode, NodeInternal, Node);
    holds_script_or_file: it has a file-subtype string or a pointer to a Text."""
    for ident in lineage:
        rule = STRUCTS.get(ident)
        if rule is not None:
            return Refusal(rule, ident)
        for prefix, rule in STRUCT_PREFIXES.items():
            if ident.startswith(prefix):
                return Refusal(rule, ident)
    if holds_script_or_file and "Node" in lineage:
        return Refusal("script_nodes", f"{lineage[0]} (a node with a script, text or file path)")
    return None


def property_refusal(lineage, prop):
    """A Refusal for stepping through or writing struct.prop by name, or None."""
    for ident in lineage:
        rule = PROPERTIES.get((ident, prop))
        if rule is not None:
            return Refusal(rule, f"{lineage[0]}.{prop}")
    return None


def value_refusal(where, kind, subtype=""):
    """A Refusal for the target's value type: strings (file paths named as such), or None.
    Pointers, collections and matrices are left to the type check (wrong_type)."""
    if subtype in FILE_SUBTYPES:
        return Refusal("file_paths", f"{where} is a {subtype} string")
    if kind == "STRING":
        return Refusal("strings", f"{where} is a string")
    return None


def target_refusal(lineage, prop, kind, subtype=""):
    """A Refusal for writing lineage[0].prop of this kind/subtype, or None."""
    return property_refusal(lineage, prop) or value_refusal(f"{lineage[0]}.{prop}", kind, subtype)


def operator_refusal(name):
    """A Refusal for calling operator name at all, or None (the allow-list is checked apart)."""
    for prefix, rule in OPERATORS.items():
        if name.startswith(prefix):
            return Refusal(rule, f"operator {name}: no {prefix}* operator is, whatever the allow-list",
                           "callable")
    return None


def argument_refusal(operator, arg, kind, subtype=""):
    """A Refusal for passing argument arg of this RNA kind to operator, or None:
    numbers, bools and enums only."""
    where = f"{operator} argument {arg!r}"
    refusal = value_refusal(where, kind, subtype)
    if refusal is None and kind not in WRITABLE_KINDS:
        refusal = Refusal("strings", f"{where} is a {kind.lower()}; only numbers, bools and enums are passed")
    if refusal is not None:
        refusal.verb = "passable"
    return refusal
